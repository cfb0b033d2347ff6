"""The checks every experiment's ``run`` starts with: its seed, its configuration, its folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")


def config(config_type: type[C], *, quick: bool, seed: Any, config: Any) -> C:
    """``config`` if given, else ``config_type.quick()`` or ``.full()``; after checking ``seed``.

    Raises:
      ValueError: ``seed`` is not an ``int >= 0``.
      TypeError: ``config`` is not a ``config_type``.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    cfg = config if config is not None else (config_type.quick() if quick else config_type.full())
    if not isinstance(cfg, config_type):
        name = f"{config_type.__module__.rsplit('.', 1)[-1]}.{config_type.__name__}"
        article = "an" if name[0] in "aeiou" else "a"
        raise TypeError(f"config must be {article} {name}, got {type(cfg).__name__}")
    return cfg


def out_folder(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a ``Path``, created with its parents if missing."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out
