r"""Gaussian expectations of an activation and its derivative, by composite Gauss-Legendre
quadrature: the engine behind :mod:`actlab.gradflow` mean-field theory.

For ``z ~ N(0, 1)`` and ``u = sqrt(q) z`` it computes ``E[phi(u)^2]``, ``E[phi'(u)^2]`` and
``E[phi(u) phi'(u) z] / sqrt(q)``, and for a pair ``(u_1, u_2)`` of variance ``q`` and correlation
``c`` the cross moments ``E[phi(u_1) phi(u_2)]`` and ``E[phi'(u_1) phi'(u_2)]``.

**Quadrature and its accuracy.** Gaussian expectations are computed in float64 (JAX's x64 is
enabled locally, only around the evaluation) by composite Gauss-Legendre quadrature on
``|z| <= 10`` (the mass outside is 1.5e-23): 48 nodes on each panel, with panel edges at
``z = +-1, +-3``, at every kink of the activation (and ``u = 0``) mapped to ``z = k / sqrt(q)``,
and at ``u = +-0.25, +-1, +-4`` for the shape of smooth activations at large ``q``. The
bivariate expectations integrate the second variable the same way for every node of the first
(panel edges follow the kinks of ``phi(u_2)``), and split the first variable where the inner
integral bends sharply (around each kink's image, at ``+-2`` and ``+-8`` times its width
``sqrt(1 - c^2) / |c|``). Plain Gauss-Hermite quadrature was measured first and rejected: for
kinked functions its error falls only like ``1 / n`` (``1e-3`` for the ReLU arc-cosine kernel
with 200 nodes). Measured errors of this scheme:

* length map and ``chi_1`` against adaptive quadrature (``scipy.integrate.quad``, split at the
  kinks), for tanh, sigmoid, softsign, gelu, silu, mish, softplus, elu, celu, selu, relu6,
  hard_tanh and hard_sigmoid at ``q`` from ``1e-4`` to ``1e4``: below ``3e-14`` relative;
* ``E[phi(u_1) phi(u_2)]`` and ``E[phi'(u_1) phi'(u_2)]`` for ReLU and leaky ReLU (as plain
  callables) against the closed forms, ``q`` from ``1e-3`` to ``1e3``, ``c`` in ``[-1, 1]``
  including ``1 - 1e-9`` and ``-1 + 1e-6``: below ``2e-15 q`` absolute; for ``erf`` against
  Williams' arcsine kernel: below ``4e-14``; for hard_tanh, elu, relu6 and gelu against nested
  adaptive quadrature: below ``5e-15``.

``tests/test_gradflow_theory.py`` checks a subset. A plain callable with kinks away from 0 should
pass them as ``kinks=`` to keep this accuracy (registry activations know theirs).

"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial.legendre import leggauss

from actlab.checks import message

#: Expectations at ``q = 0`` are taken as the limit ``q -> 0+``, evaluated at this ``q``.
Q_FLOOR = 1e-30
_Z_LIMIT = 10.0
_NODES_PER_PANEL = 48
_Z_BREAKS = np.array([-3.0, -1.0, 1.0, 3.0])
_U_BREAKS = np.array([-4.0, -1.0, -0.25, 0.25, 1.0, 4.0])
_SMOOTHING_OFFSETS = np.array([-8.0, -2.0, 0.0, 2.0, 8.0])
_LEGENDRE_NODES, _LEGENDRE_WEIGHTS = leggauss(_NODES_PER_PANEL)


def _gaussian_rule(breaks: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Nodes and weights for ``E_z[F(z)]``, ``z ~ N(0, 1)``, one rule per row of ``breaks``.

    Args:
      breaks: ``(m, k)`` panel edges; those outside ``(-10, 10)`` (``+-inf`` included) are
        clipped to the ends and give empty panels.

    Returns:
      ``(nodes, weights)``, each ``(m, (k + 1) * 48)``; ``sum(weights * F(nodes), axis=1)``
      approximates the expectation (the weights include the Gaussian density).
    """
    rows = breaks.shape[0]
    ends = jnp.full((rows, 1), _Z_LIMIT)
    edges = jnp.sort(
        jnp.concatenate([-ends, jnp.clip(breaks, -_Z_LIMIT, _Z_LIMIT), ends], axis=1), axis=1
    )
    low, high = edges[:, :-1, None], edges[:, 1:, None]
    half = 0.5 * (high - low)
    legendre_nodes = jnp.asarray(_LEGENDRE_NODES, breaks.dtype)
    legendre_weights = jnp.asarray(_LEGENDRE_WEIGHTS, breaks.dtype)
    nodes = low + half * (1.0 + legendre_nodes[None, None, :])
    density = jnp.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi)
    weights = half * legendre_weights[None, None, :] * density
    return nodes.reshape(rows, -1), weights.reshape(rows, -1)


def _all_finite(*arrays: jax.Array) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in arrays]))


def _root(q: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.maximum(q, Q_FLOOR))


# The quadrature rules and sums do not depend on the activation: compiled once per number of
# panel edges and shared by every MeanField; only ``phi`` itself is compiled per activation.
@jax.jit
def _line_nodes(points: jax.Array, q: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Pre-activations ``u = sqrt(q) z`` and weights, each ``(P,)``, for ``E_z[F(sqrt(q) z)]``.

    ``points``: ``(k,)`` pre-activations where ``phi`` has kinks or bends (panel edges).
    """
    root = _root(q)
    z, w = _gaussian_rule(jnp.concatenate([_Z_BREAKS, points / root])[None, :])
    return root * z[0], w[0]


@jax.jit
def _moment_sums(q: jax.Array, u: jax.Array, w: jax.Array, values: jax.Array, slopes: jax.Array):
    """``[E phi^2, E phi'^2, E[phi phi' z] / sqrt(q), all finite]`` from ``_line_nodes``."""
    root = _root(q)
    return jnp.stack(
        [
            w @ values**2,
            w @ slopes**2,
            w @ (values * slopes * u) / (root * root),
            _all_finite(values, slopes).astype(w.dtype),
        ]
    )


def plane_rule(
    points: jax.Array, kinks: jax.Array, q1: jax.Array, q2: jax.Array, c: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Nodes ``u_1 (P1,)``, ``u_2 (P1, P2)`` and weights for ``E[F(u_1) G(u_2)]``, ``|c| < 1``.

    ``u_1 = sqrt(q1) z_1``, ``u_2 = sqrt(q2) (c z_1 + s z_2)``, ``s = sqrt(1 - c^2)``: the inner
    integral over ``z_2`` has panel edges at the images of ``points`` for every node ``z_1``; the
    outer one also splits around the image ``k / (c sqrt(q2))`` of every kink, where the inner
    integral bends on the scale ``s / |c|``. Traceable (``vmap`` over ``q1, q2, c``).
    """
    root1, root2 = _root(q1), _root(q2)
    s = jnp.sqrt(1.0 - c * c)
    safe_c = jnp.where(c == 0.0, 1.0, c)
    images = kinks[:, None] / (safe_c * root2) + _SMOOTHING_OFFSETS[None, :] * (s / jnp.abs(safe_c))
    images = jnp.where(c == 0.0, jnp.inf, images).ravel()
    z1, w1 = _gaussian_rule(jnp.concatenate([_Z_BREAKS, points / root1, images])[None, :])
    z1, w1 = z1[0], w1[0]
    inner_breaks = jnp.concatenate(
        [
            jnp.broadcast_to(_Z_BREAKS[None, :], (z1.size, _Z_BREAKS.size)),
            (points[None, :] / root2 - c * z1[:, None]) / s,
        ],
        axis=1,
    )
    z2, w2 = _gaussian_rule(inner_breaks)
    return root1 * z1, w1, root2 * (c * z1[:, None] + s * z2), w2


@jax.jit
def _plane_nodes(
    points: jax.Array, kinks: jax.Array, q: jax.Array, c: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """:func:`plane_rule` at a common variance ``q``."""
    return plane_rule(points, kinks, q, q, c)


def diagonal_rule(
    points: jax.Array, q1: jax.Array, q2: jax.Array, c: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Nodes ``u_1, u_2`` and weights, each ``(P,)``, for ``E[F(u_1) G(u_2)]`` at ``c = +-1``,
    where ``u_2 = c sqrt(q2 / q1) u_1``: panel edges at the images of ``points`` under both maps.
    Traceable."""
    root1, root2 = _root(q1), _root(q2)
    breaks = jnp.concatenate([_Z_BREAKS, points / root1, points / root2, -points / root2])
    z, w = _gaussian_rule(breaks[None, :])
    return root1 * z[0], jnp.sign(c) * root2 * z[0], w[0]


def pair_cross(
    value_and_slope: Callable[[jax.Array], tuple[jax.Array, jax.Array]],
    points: jax.Array,
    kinks: jax.Array,
    q1: jax.Array,
    q2: jax.Array,
    c: jax.Array,
) -> jax.Array:
    """``[E phi(u_1) phi(u_2), E phi'(u_1) phi'(u_2), all finite]`` for ``u_1, u_2`` of variances
    ``q1, q2`` (scalars ``>= 0``) and correlation ``c`` in ``[-1, 1]``: the plane rule inside,
    the diagonal rule at ``|c| = 1``. Traceable, for ``vmap`` and ``lax.map`` over pairs."""
    diagonal = jnp.abs(c) >= 1.0
    u1, w1, u2, w2 = plane_rule(points, kinks, q1, q2, jnp.where(diagonal, 0.5, c))
    plane = _plane_sums(w1, w2, *value_and_slope(u1), *value_and_slope(u2))
    v1, v2, w = diagonal_rule(points, q1, q2, jnp.where(diagonal, c, 1.0))
    line = _diagonal_sums(w, *value_and_slope(v1), *value_and_slope(v2))
    return jnp.where(diagonal, line, plane)


def line_moments(
    value_and_slope: Callable[[jax.Array], tuple[jax.Array, jax.Array]],
    points: jax.Array,
    q: jax.Array,
) -> jax.Array:
    """``[E phi^2, E phi'^2, E[phi phi' z] / sqrt(q), all finite]`` at variance ``q`` (a scalar
    ``>= 0``), as :meth:`Expectations.moments` computes them. Traceable."""
    u, w = _line_nodes(points, q)
    return _moment_sums(q, u, w, *value_and_slope(u))


@jax.jit
def _plane_sums(w1, w2, values1, slopes1, values2, slopes2) -> jax.Array:
    """``[E phi(u_1) phi(u_2), E phi'(u_1) phi'(u_2), all finite]`` from ``_plane_nodes``."""
    return jnp.stack(
        [
            w1 @ (values1 * jnp.sum(w2 * values2, axis=1)),
            w1 @ (slopes1 * jnp.sum(w2 * slopes2, axis=1)),
            _all_finite(values1, slopes1, values2, slopes2).astype(w1.dtype),
        ]
    )


@jax.jit
def _diagonal_sums(w, values1, slopes1, values2, slopes2) -> jax.Array:
    """As ``_plane_sums`` for ``c = +-1``, where ``u_2 = c u_1``: one dimension suffices."""
    return jnp.stack(
        [
            w @ (values1 * values2),
            w @ (slopes1 * slopes2),
            _all_finite(values1, slopes1, values2, slopes2).astype(w.dtype),
        ]
    )


class Expectations:
    """The quadrature rules of one elementwise activation ``phi``, compiled once.

    Args:
      act: the activation (a callable on JAX arrays).
      name: its name, for error messages.
      kinks: where ``phi'`` jumps (quadrature panels are split there).
    """

    def __init__(self, act: Callable[[jax.Array], jax.Array], name: str, kinks: np.ndarray):
        def value_and_slope(x: jax.Array) -> tuple[jax.Array, jax.Array]:
            return jax.jvp(act, (x,), (jnp.ones_like(x),))

        with jax.enable_x64(True):  # elementwise, or fail now
            probe = jnp.array([-1.0, 0.5, 2.0])
            shapes = [jnp.shape(y) for y in jax.eval_shape(value_and_slope, probe)]
        if shapes != [(3,), (3,)]:
            raise ValueError(
                message("act", "an elementwise activation (output shape = input shape)",
                        f"{name}, which maps shape (3,) to {shapes[0]}")
            )  # fmt: skip
        self.name = name
        self.kinks = kinks
        self._value_and_slope = jax.jit(value_and_slope)
        self._points = np.concatenate([kinks, _U_BREAKS])
        self._mirrored_points = np.concatenate([self._points, -self._points])

    def _finite(self, sums: jax.Array, q: float) -> np.ndarray:
        out = np.asarray(sums, np.float64)
        if out[-1] != 1.0:
            raise ValueError(
                message("act", "finite values and derivatives for Gaussian pre-activations",
                        f"a non-finite value or derivative of {self.name} at variance {q:.4g}")
            )  # fmt: skip
        return out[:-1]

    def moments(self, q: float) -> np.ndarray:
        """``[E phi^2, E phi'^2, E[phi phi' z] / sqrt(q)]`` at variance ``q`` (float64)."""
        with jax.enable_x64(True):
            q64 = np.float64(q)
            u, w = _line_nodes(self._points, q64)
            return self._finite(_moment_sums(q64, u, w, *self._value_and_slope(u)), q)

    def cross(self, q: float, c: float) -> np.ndarray:
        """``[E phi(u_1) phi(u_2), E phi'(u_1) phi'(u_2)]`` at variance ``q``, correlation ``c``."""
        with jax.enable_x64(True):
            q64, c64 = np.float64(q), np.float64(c)
            if abs(c) == 1.0:
                u, w = _line_nodes(self._mirrored_points, q64)
                first, second = self._value_and_slope(u), self._value_and_slope(c64 * u)
                return self._finite(_diagonal_sums(w, *first, *second), q)
            u1, w1, u2, w2 = _plane_nodes(self._points, self.kinks, q64, c64)
            first, second = self._value_and_slope(u1), self._value_and_slope(u2)
            return self._finite(_plane_sums(w1, w2, *first, *second), q)
