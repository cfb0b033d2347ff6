"""The activation table: one entry per name, with its parameters, kinks and ranges.

``get(name, **params)`` returns the activation with parameters bound; ``spec(name)`` returns the
metadata that other layers rely on (region counting reads ``kinks`` and ``pieces``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from actlab.activations import exponential, gated, normalized, piecewise, power, smooth
from actlab.checks import message, show

INF = math.inf


@dataclass(frozen=True)
class ParamSpec:
    """A numeric parameter: its default and the interval of valid values."""

    default: float
    low: float = -INF
    high: float = INF
    low_open: bool = False
    high_open: bool = False
    doc: str = ""

    def interval(self) -> str:
        """The valid interval in mathematical notation, e.g. ``'[0, inf)'``."""
        left = "(" if self.low_open or self.low == -INF else "["
        right = ")" if self.high_open or self.high == INF else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"


Pieces = tuple[tuple[float, float], ...]


@dataclass(frozen=True, eq=False)
class ActivationSpec:
    """What actlab knows about one activation.

    Attributes:
      name: registry name.
      fn: the function, ``fn(x, **params)``.
      params: numeric parameters (name -> ``ParamSpec``), in signature order.
      kink_keyword: the keyword selecting the derivative at the kinks (``"grad_at_zero"`` or
        ``"grad_at_kinks"``), or ``None`` for functions without kinks.
      kink_default: the default derivative at the kinks, in words.
      kinks: increasing locations where the derivative jumps (for some parameter values).
      piecewise_linear: whether the function is continuous piecewise linear.
      output_range: ``(low, high)`` of the image of the reals at the default parameters.
      monotone: whether it is non-decreasing at the default parameters.
      elementwise: False for ``softmax`` and ``log_softmax``, which normalise along an axis.
    """

    name: str
    fn: Callable[..., jax.Array]
    params: Mapping[str, ParamSpec]
    kink_keyword: str | None
    kink_default: str
    kinks: tuple[float, ...]
    piecewise_linear: bool
    output_range: tuple[float, float]
    monotone: bool
    elementwise: bool = True
    _pieces: Callable[..., Pieces] | None = field(default=None, repr=False)

    def pieces(self, **params: float) -> Pieces:
        """``(slope, intercept)`` of each of the ``len(kinks) + 1`` affine pieces, left to right.

        The piece index of a pre-activation ``z`` is the number of kinks ``k`` with ``z > k``.

        Raises:
          ValueError: if the activation is not piecewise linear, or a parameter is unknown.
        """
        if self._pieces is None:
            raise ValueError(
                message(
                    "activation",
                    "a piecewise-linear activation",
                    f"{self.name!r}, which has no affine pieces",
                    where=f"{self.name}.pieces",
                )
            )
        _check_param_names(self, params, allow_kink_keyword=False)
        values = {name: p.default for name, p in self.params.items()} | params
        for name, value in values.items():
            if np.ndim(value) != 0:
                raise ValueError(
                    message(
                        name, "a scalar", f"shape {np.shape(value)}", where=f"{self.name}.pieces"
                    )
                )
        return self._pieces(**{name: float(v) for name, v in values.items()})


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation with its parameters bound: ``act(x) == act.fn(x, **act.params)``.

    Two activations with the same name and equal scalar parameters are equal and hash alike, so
    ``jax.jit`` with the activation as a static argument compiles once per configuration.
    """

    name: str
    fn: Callable[..., jax.Array]
    params: Mapping[str, Any]

    def __call__(self, x: jax.typing.ArrayLike) -> jax.Array:
        return self.fn(x, **self.params)

    def _key(self) -> tuple | None:
        """``(name, params)`` when every parameter is a Python scalar or tuple, else ``None``."""
        items = tuple(sorted(self.params.items()))
        if all(isinstance(v, int | float | bool | str | tuple | type(None)) for _, v in items):
            return (self.name, items)
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Activation):
            return NotImplemented
        key = self._key()
        return self is other or (key is not None and key == other._key())

    def __hash__(self) -> int:
        key = self._key()
        return hash(key) if key is not None else id(self)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"


def _spec(
    name,
    fn,
    *,
    params=None,
    kink_keyword=None,
    kink_default="",
    kinks=(),
    pieces=None,
    output_range=(-INF, INF),
    monotone=True,
    elementwise=True,
) -> ActivationSpec:
    return ActivationSpec(
        name=name, fn=fn, params=MappingProxyType(dict(params or {})), kink_keyword=kink_keyword,
        kink_default=kink_default, kinks=tuple(kinks), piecewise_linear=pieces is not None,
        output_range=output_range, monotone=monotone, elementwise=elementwise, _pieces=pieces,
    )  # fmt: skip


_SLOPE = ParamSpec(0.01, doc="slope for x < 0")
_TABLE: dict[str, ActivationSpec] = {
    s.name: s
    for s in [
        _spec("identity", piecewise.identity, pieces=lambda: ((1.0, 0.0),)),
        _spec("relu", piecewise.relu, kink_keyword="grad_at_zero", kink_default="0",
              kinks=(0.0,), pieces=lambda: ((0.0, 0.0), (1.0, 0.0)), output_range=(0.0, INF)),
        _spec("relu6", piecewise.relu6, kink_keyword="grad_at_kinks", kink_default="0 at both",
              kinks=(0.0, 6.0), pieces=lambda: ((0.0, 0.0), (1.0, 0.0), (0.0, 6.0)),
              output_range=(0.0, 6.0)),
        _spec("leaky_relu", piecewise.leaky_relu, params={"negative_slope": _SLOPE},
              kink_keyword="grad_at_zero", kink_default="negative_slope (left derivative)",
              kinks=(0.0,), pieces=lambda negative_slope: ((negative_slope, 0.0), (1.0, 0.0))),
        _spec("prelu", piecewise.prelu, params={"slope": ParamSpec(0.25, doc="learnable slope for x < 0")},
              kink_keyword="grad_at_zero", kink_default="slope (left derivative)",
              kinks=(0.0,), pieces=lambda slope: ((slope, 0.0), (1.0, 0.0))),
        _spec("hard_tanh", piecewise.hard_tanh, kink_keyword="grad_at_kinks",
              kink_default="0 at both", kinks=(-1.0, 1.0),
              pieces=lambda: ((0.0, -1.0), (1.0, 0.0), (0.0, 1.0)), output_range=(-1.0, 1.0)),
        _spec("hard_sigmoid", piecewise.hard_sigmoid, kink_keyword="grad_at_kinks",
              kink_default="0 at both", kinks=(-3.0, 3.0),
              pieces=lambda: ((0.0, 0.0), (1 / 6, 0.5), (0.0, 1.0)), output_range=(0.0, 1.0)),
        _spec("elu", exponential.elu, params={"alpha": ParamSpec(1.0, low=0.0, doc="scale of the negative part")},
              kink_keyword="grad_at_zero", kink_default="alpha (left derivative)", kinks=(0.0,),
              output_range=(-1.0, INF)),
        _spec("selu", exponential.selu, kink_keyword="grad_at_zero",
              kink_default="scale * alpha (left derivative)", kinks=(0.0,),
              output_range=(-exponential.SELU_SCALE * exponential.SELU_ALPHA, INF)),
        _spec("celu", exponential.celu, params={"alpha": ParamSpec(1.0, low=0.0, low_open=True)},
              output_range=(-1.0, INF)),
        _spec("gelu", smooth.gelu, output_range=(-0.17, INF), monotone=False),
        _spec("silu", smooth.silu, output_range=(-0.28, INF), monotone=False),
        _spec("mish", smooth.mish, output_range=(-0.31, INF), monotone=False),
        _spec("softplus", smooth.softplus, output_range=(0.0, INF)),
        _spec("sigmoid", smooth.sigmoid, output_range=(0.0, 1.0)),
        _spec("tanh", smooth.tanh, output_range=(-1.0, 1.0)),
        _spec("softsign", smooth.softsign, output_range=(-1.0, 1.0)),
        _spec("softmax", normalized.softmax, output_range=(0.0, 1.0), monotone=False, elementwise=False),
        _spec("log_softmax", normalized.log_softmax, output_range=(-INF, 0.0), monotone=False,
              elementwise=False),
        _spec("sbaf", power.sbaf, params={"k": ParamSpec(1.0, low=0.0), "alpha": ParamSpec(0.5, 0.0, 1.0)},
              output_range=(0.0, 1.0), monotone=False),
        _spec("sparse_sigmoid", piecewise.sparse_sigmoid, kink_keyword="grad_at_kinks",
              kink_default="0 at both (jax.nn's clip gives 1/4)", kinks=(-1.0, 1.0),
              pieces=lambda: ((0.0, 0.0), (0.5, 0.5), (0.0, 1.0)), output_range=(0.0, 1.0)),
        _spec("sparse_plus", piecewise.sparse_plus, output_range=(0.0, INF)),
        _spec("hard_silu", piecewise.hard_silu, kink_keyword="grad_at_kinks",
              kink_default="0 at -3, 1 at 3 (the outer slopes, as jax.nn)", kinks=(-3.0, 3.0),
              output_range=(-0.375, INF), monotone=False),
        _spec("log_sigmoid", smooth.log_sigmoid, output_range=(-INF, 0.0)),
        _spec("squareplus", smooth.squareplus,
              params={"b": ParamSpec(4.0, low=0.0, low_open=True, doc="smoothness")},
              output_range=(0.0, INF)),
        _spec("glu", gated.glu, monotone=False, elementwise=False),
        _spec("arelu", power.arelu, params={"k": ParamSpec(1.0, low=0.0), "n": ParamSpec(1.5, low=1.0)},
              kink_keyword="grad_at_zero", kink_default="0", kinks=(0.0,), output_range=(0.0, INF)),
    ]
}  # fmt: skip


ALIASES: Mapping[str, str] = MappingProxyType(
    {"swish": "silu", "hard_swish": "hard_silu", "soft_sign": "softsign"}
)
"""``jax.nn``'s second names for registry activations; ``get`` and ``spec`` accept them."""


def names() -> tuple[str, ...]:
    """All registered activation names, in a fixed order (aliases not included)."""
    return tuple(_TABLE)


def spec(name: str) -> ActivationSpec:
    """The ``ActivationSpec`` of ``name`` (or an alias of it, see ``ALIASES``).

    Raises:
      ValueError: an unknown name, listing the valid ones.
    """
    try:
        return _TABLE[ALIASES.get(name, name)]
    except (KeyError, TypeError):
        raise ValueError(message("activation", f"one of {', '.join(_TABLE)}", show(name))) from None


def _check_param_names(
    s: ActivationSpec, params: Mapping[str, Any], allow_kink_keyword: bool
) -> None:
    valid = list(s.params) + ([s.kink_keyword] if allow_kink_keyword and s.kink_keyword else [])
    if s.name == "gelu":
        valid.append("approximate")
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(
            message(
                "parameter",
                f"one of {', '.join(valid)}" if valid else "no parameters",
                repr(unknown[0]),
                where=s.name,
            )
        )


def get(name: str, **params: Any) -> Activation:
    """The activation ``name`` with ``params`` bound, validated now.

    Args:
      name: a registry name (see ``names()``).
      **params: the function's parameters, e.g. ``negative_slope=0.2`` or ``grad_at_zero=1.0``.

    Returns:
      A callable ``Activation``; ``get("relu", grad_at_zero=1.0)(x) == relu(x, grad_at_zero=1.0)``.

    Raises:
      ValueError: unknown name (listing the valid ones), unknown parameter (listing the valid
        ones), or a value outside its valid range (naming the range and the value received).

    Example:
      >>> act = get("leaky_relu", negative_slope=0.2)
      >>> act(jnp.array([-1.0, 2.0]))
      Array([-0.2,  2. ], dtype=float32)
    """
    s = spec(name)
    _check_param_names(s, params, allow_kink_keyword=True)
    bound = {k: p.default for k, p in s.params.items()} | dict(params)
    probe = jax.ShapeDtypeStruct((2,), jnp.float32)
    jax.eval_shape(
        lambda x: s.fn(x, **bound), probe
    )  # runs every trace-time check, compiles nothing
    return Activation(name=s.name, fn=s.fn, params=MappingProxyType(bound))
