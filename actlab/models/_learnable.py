"""Activations with learnable parameters, as Flax NNX modules.

Each takes ``num_features`` (the width of the layer it follows) first and ``rngs`` as a keyword, so
the class itself (or a ``functools.partial`` of it) can be passed to :class:`actlab.models.MLP` as
``activation``; the MLP then builds one instance per hidden layer. A parameter is either shared by
all units (shape ``()``) or one per unit (shape ``(num_features,)``), acting on the last axis.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from actlab import activations as A
from actlab.checks import integer, message, number, show

__all__ = ["LearnableELU", "PReLU", "Swish"]


class _PerUnitParameter(nnx.Module):
    """Shared machinery: one learnable parameter, shared or per unit, broadcast on the last axis."""

    _parameter: str = "value"
    _default: float = 0.0

    def __init__(
        self,
        num_features: int | None = None,
        *,
        per_unit: bool = False,
        init: float | None = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        del rngs  # accepted for the NNX constructor protocol: the initial value is a constant
        cls = type(self).__name__
        init = self._default if init is None else init
        if not isinstance(init, numbers.Real):
            raise ValueError(message("init", "a finite number", show(init), where=cls))
        number(init, "init", where=cls)
        if per_unit:
            count = integer(num_features, "num_features (with per_unit=True)", minimum=1, where=cls)
            shape: tuple[int, ...] = (count,)
        else:
            shape = ()
        self.num_features = None if num_features is None else int(num_features)
        self.per_unit = bool(per_unit)
        setattr(self, self._parameter, nnx.Param(jnp.full(shape, init, dtype=param_dtype)))

    def _broadcast(self, x: jax.Array) -> jax.Array:
        """The parameter shaped to broadcast against ``x`` without rank promotion."""
        p = getattr(self, self._parameter)[...]
        if not self.per_unit:
            return p
        if x.ndim == 0 or x.shape[-1] != p.shape[0]:
            raise ValueError(
                message("x", f"a last axis of size {p.shape[0]} (one per-unit {self._parameter} "
                        "each)", f"shape {x.shape}", where=type(self).__name__)
            )  # fmt: skip
        return jnp.reshape(p, (1,) * (x.ndim - 1) + p.shape)


class PReLU(_PerUnitParameter):
    r"""Parametric ReLU (He et al. 2015): ``x`` for ``x > 0``, else ``slope * x``, ``slope`` learnt.

    Computed by :func:`actlab.activations.prelu`, so the derivative at ``x == 0`` follows its
    convention.

    Args:
      num_features: width of the input's last axis; needed only when ``per_unit`` is true.
      per_unit: one slope per unit (shape ``(num_features,)``) instead of one shared slope.
      init: initial slope (He et al. use 0.25).
      param_dtype: dtype of the slope.
      rngs: accepted for the NNX constructor protocol; unused (the initial slope is a constant).

    Example::

        >>> act = PReLU(3, per_unit=True, init=0.1)
        >>> act(jnp.array([[-1.0, 2.0, -3.0]]))
        Array([[-0.1,  2. , -0.3]], dtype=float32)
    """

    _parameter, _default = "slope", 0.25

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        return A.prelu(x, self._broadcast(x))

    def as_activation(self) -> A.Activation:
        """The registry activation computed with the current shared slope,
        ``get("prelu", slope=...)``: what region counting and mean-field theory read.

        Raises:
          ValueError: per-unit slopes (no single registry activation computes them).
        """
        slope = np.asarray(self.slope[...])
        if slope.ndim:
            raise ValueError(
                message("slope", "one shared slope (per-unit slopes make a different function "
                        "per unit)", f"per-unit slopes of shape {slope.shape}",
                        where="PReLU.as_activation")
            )  # fmt: skip
        return A.get("prelu", slope=float(slope))


class LearnableELU(_PerUnitParameter):
    r"""ELU with a learnt ``alpha``: ``x`` for ``x > 0``, else ``alpha (e^x - 1)``.

    The saturation level ``-alpha`` for large negative inputs is learnt (the "parametric ELU"
    family of Trottier et al. 2017, with the input scale fixed to 1). ``alpha`` is not constrained
    (training may drive it below 0), so the formula is evaluated here rather than by
    :func:`actlab.activations.elu`, which checks ``alpha >= 0``; for ``alpha >= 0`` the two agree,
    including the derivative at ``x == 0`` (``alpha``, the left derivative).

    Args:
      num_features: width of the input's last axis; needed only when ``per_unit`` is true.
      per_unit: one ``alpha`` per unit instead of one shared value.
      init: initial ``alpha`` (1.0: the standard ELU).
      param_dtype: dtype of ``alpha``.
      rngs: accepted for the NNX constructor protocol; unused.

    Example::

        >>> act = LearnableELU(init=2.0)
        >>> act(jnp.array([-1e9, 1.0]))
        Array([-2.,  1.], dtype=float32)
    """

    _parameter, _default = "alpha", 1.0

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        alpha = self._broadcast(x)
        return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))

    def as_activation(self) -> A.Activation:
        """The registry activation computed with the current shared ``alpha``:
        ``get("elu", alpha=...)`` (``ValueError`` for per-unit or negative values)."""
        alpha = np.asarray(self.alpha[...])
        if alpha.ndim:
            raise ValueError(
                message("alpha", "one shared value (elu takes a scalar alpha)",
                        f"shape {alpha.shape}", where="LearnableELU.as_activation")
            )  # fmt: skip
        return A.get("elu", alpha=float(alpha))


class Swish(_PerUnitParameter):
    r"""Swish with a learnt ``beta`` (Ramachandran et al. 2017): ``x * sigmoid(beta * x)``.

    ``beta = 1`` is SiLU; ``beta -> infinity`` approaches ReLU, ``beta = 0`` gives ``x / 2``.

    Args:
      num_features: width of the input's last axis; needed only when ``per_unit`` is true.
      per_unit: one ``beta`` per unit instead of one shared value.
      init: initial ``beta``.
      param_dtype: dtype of ``beta``.
      rngs: accepted for the NNX constructor protocol; unused.

    Example::

        >>> Swish(init=0.0)(jnp.array([2.0]))
        Array([1.], dtype=float32)
    """

    _parameter, _default = "beta", 1.0

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        return x * A.sigmoid(self._broadcast(x) * x)
