"""What every experiment shares: its settings presets, the signature and checks of its ``run``
(:func:`experiment`), and how it ends (:func:`finish`: figures saved, the report section assembled
and written as JSON)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from matplotlib.figure import Figure

from actlab import plot
from actlab.checks import seed as check_seed
from actlab.io import write_json
from actlab.models import MLP, ActivationChoice

C = TypeVar("C")

Section = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class DigitsNetwork:
    """``rngs -> MLP(64, [width] * depth, 10)``, each member's activation one of ``choices``.

    The activation of member ``i`` of an ensemble is picked by :class:`ActivationChoice`; frozen,
    so that it can be a static argument of a jitted ensemble builder.
    """

    width: int
    depth: int
    choices: tuple[Any, ...]

    def __call__(self, rngs: Any) -> MLP:
        act = functools.partial(ActivationChoice, choices=self.choices)
        return MLP(64, [self.width] * self.depth, 10, activation=act, rngs=rngs)


class Presets:
    """The two presets of an experiment's settings (a frozen dataclass deriving from this):
    :meth:`full`, the defaults behind the report's figures, and :meth:`quick`, seconds to minutes
    on a CPU. :meth:`check` raises ``ValueError`` for settings that contradict each other."""

    @classmethod
    def full(cls: type[C]) -> C:
        """The settings behind the report's figures (the defaults)."""
        return cls()

    @classmethod
    def quick(cls: type[C]) -> C:
        """Small settings for a quick run."""
        raise NotImplementedError

    def check(self) -> None:
        """``ValueError`` naming a setting out of range (none here)."""


def settings(config_type: type[C], *, quick: bool, seed: Any, config: Any) -> C:
    """``config`` if given, else ``config_type.quick()`` or ``.full()``; after checking ``seed``.

    Raises:
      TypeError: ``seed`` is not an int, or ``config`` is not a ``config_type``.
      ValueError: ``seed`` is negative.
    """
    check_seed(seed)
    cfg = config if config is not None else (config_type.quick() if quick else config_type.full())
    if not isinstance(cfg, config_type):
        parts = config_type.__module__.split(".")  # actlab.experiments.<name>[._config]
        home = parts[parts.index("experiments") + 1] if "experiments" in parts else parts[-1]
        name = f"{home}.{config_type.__name__}"
        article = "an" if name[0] in "aeiou" else "a"
        raise TypeError(f"config: expected {article} {name}, received {type(cfg).__name__}")
    return cfg


_RUN_DOC = """Run the experiment and write its data (JSON) and figures (PNG and SVG) into ``out_dir``.

Args:
  out_dir: output folder (created).
  quick: use ``Config.quick()`` (small) instead of ``Config.full()``.
  seed: base seed of the data, the initial weights and every other random draw.
  config: explicit settings; overrides ``quick``.

Returns:
  {returns}
"""


def experiment(
    config_type: type[C],
) -> Callable[[Callable[[C, int, Path], Section]], Callable[..., Section]]:
    """Turn ``body(cfg, seed, out) -> section`` into the experiment's ``run``.

    ``run(out_dir, *, quick=False, seed=0, config=None)`` checks the seed and the settings (also
    ``cfg.check()``), creates ``out_dir`` and calls ``body``; its docstring says what every run
    takes, then ``body``'s docstring (what the returned section holds).
    """

    def wrap(body: Callable[[C, int, Path], Section]) -> Callable[..., Section]:
        def run(
            out_dir: str | os.PathLike,
            *,
            quick: bool = False,
            seed: int = 0,
            config: C | None = None,
        ) -> Section:
            cfg = settings(config_type, quick=quick, seed=seed, config=config)
            cfg.check()
            return body(cfg, seed, out_folder(out_dir))

        returns = inspect.cleandoc(body.__doc__ or "The report section.").replace("\n", "\n  ")
        run.__doc__ = _RUN_DOC.format(returns=returns)
        run.__module__, run.__name__, run.__qualname__ = body.__module__, "run", "run"
        return run

    return wrap


def out_folder(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a ``Path``, created with its parents if missing."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def finish(
    out: Path,
    name: str,
    cfg: Any,
    *,
    seed: int,
    title: str,
    summary: str,
    table: Sequence[Mapping[str, Any]],
    claims: Mapping[str, bool],
    figures: Mapping[str, Figure],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """Save ``figures`` (stem -> figure, PNG and SVG) and write ``out/<name>.json``.

    Returns:
      The report section: ``title``, ``summary``, ``figures`` (file names), ``table``,
      ``experiment``, ``quick`` (whether ``cfg`` is the quick preset), ``seed``, ``config``,
      the experiment's ``data`` entries, and ``claims``.
    """
    saved = [p.name for stem, fig in figures.items() for p in plot.save(fig, out / stem)]
    result: dict[str, Any] = {
        "title": title,
        "summary": summary,
        "figures": saved,
        "table": list(table),
        "experiment": name,
        "quick": cfg == type(cfg).quick(),
        "seed": seed,
        "config": dataclasses.asdict(cfg),
        **data,
        "claims": dict(claims),
    }
    write_json(out / f"{name}.json", result)
    return result
