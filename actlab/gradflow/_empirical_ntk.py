r"""The empirical neural tangent kernel of a finite :class:`actlab.models.MLP`.

For a network ``f(theta, x)`` with a scalar output the tangent kernel is
``Theta(x, x') = sum_p (df(x)/dtheta_p)(df(x')/dtheta_p)``. For a dense layer ``z = h @ W + b``
the gradient with respect to ``W`` is the outer product ``h delta^T`` of the layer's input and
the back-propagated signal ``delta = df/dz``, so the kernel needs no Jacobian with respect to the
parameters:

.. math:: \Theta(x, x') = \sum_{l=1}^{L+1} \big(c_w^l\, h^{l-1}(x) \cdot h^{l-1}(x') + c_b\big)\,
          \delta^l(x) \cdot \delta^l(x'),

with ``h^0 = x``, ``delta^{L+1} = 1`` for the read-out, and ``delta^l`` from one ``jax.vjp`` of
the output with respect to a perturbation of the pre-activations (:meth:`MLP.trace`). The
weights of the sum set the parameterisation: ``c_w = c_b = 1`` is the kernel of the parameters
as stored (standard parameterisation); ``c_w^l = sigma_w2 / fan_in^l`` and ``c_b = sigma_b2`` is
the kernel of the same function written in the NTK parameterisation (``W = sqrt(sigma_w2 /
fan_in) omega``, ``b = sqrt(sigma_b2) beta`` with ``omega, beta`` the trained parameters), whose
limit at infinite width is :func:`actlab.gradflow.ntk` when ``W ~ N(0, sigma_w2 / fan_in)`` and
``b ~ N(0, sigma_b2)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from actlab.checks import floating_batch, integer, message, number, show
from actlab.models import MLP

__all__ = ["empirical_ntk"]


@nnx.jit(static_argnames=("output",))
def _features(model: MLP, x: jax.Array, output: int):
    """Layer inputs ``h^0 .. h^L`` and signals ``delta^1 .. delta^L`` of a batch ``(b, d)``."""
    zeros = [jnp.zeros((x.shape[0], w), x.dtype) for w in model.widths]

    def scalar(perturb):
        trace = model.trace(x, perturb=perturb)
        return jnp.sum(trace.output[:, output]), trace.activations

    _, pullback, activations = jax.vjp(scalar, zeros, has_aux=True)
    (deltas,) = pullback(jnp.ones((), x.dtype))
    return (x, *activations), tuple(deltas)


def _all_features(model: MLP, x: jax.Array, output: int, batch_size: int):
    chunks = [_features(model, x[i : i + batch_size], output) for i in range(0, len(x), batch_size)]
    inputs = [jnp.concatenate(parts) for parts in zip(*(c[0] for c in chunks), strict=True)]
    deltas = [jnp.concatenate(parts) for parts in zip(*(c[1] for c in chunks), strict=True)]
    return inputs, deltas


def empirical_ntk(
    model: MLP,
    x1: ArrayLike,
    x2: ArrayLike | None = None,
    *,
    sigma_w2: float | None = None,
    sigma_b2: float | None = None,
    output: int = 0,
    batch_size: int = 256,
) -> jax.Array:
    r"""The tangent kernel ``(n1, n2)`` of one output of ``model``, by back-propagated signals.

    Args:
      model: an :class:`actlab.models.MLP` without normalisation or dropout and with a fixed
        (not learnable) activation.
      x1: ``(n1, in_features)`` inputs.
      x2: ``(n2, in_features)`` inputs; ``None`` for ``x1``.
      sigma_w2, sigma_b2: both given: the kernel in the NTK parameterisation with these
        variances (compare with :func:`actlab.gradflow.ntk` at the same values); both ``None``:
        the standard parameterisation (gradients with respect to the stored parameters).
      output: which output unit, in ``[0, out_features)``.
      batch_size: inputs propagated at once.

    Returns:
      ``(n1, n2)`` array in the model's computation dtype.

    Raises:
      ValueError: a model with normalisation, dropout or learnable activations; inputs of the
        wrong shape; only one of ``sigma_w2``, ``sigma_b2``.

    Example:
      >>> from flax import nnx
      >>> from actlab.gradflow import empirical_ntk
      >>> from actlab.models import MLP
      >>> model = MLP(2, [512], 1, init="he", rngs=nnx.Rngs(0))
      >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> theta = empirical_ntk(model, x, sigma_w2=2.0, sigma_b2=0.0)
      >>> theta.shape
      (2, 2)
      >>> exact = jnp.array([[2.0, 1 / jnp.pi], [1 / jnp.pi, 2.0]])  # actlab.gradflow.ntk
      >>> bool(jnp.allclose(theta, exact, atol=0.25))
      True
    """
    where = "empirical_ntk"
    if not isinstance(model, MLP):
        raise TypeError(message("model", "an actlab.models.MLP", type(model).__name__, where=where))
    if model.norms is not None or model.dropouts is not None or model.activations is not None:
        what = "an MLP without normalisation, dropout or learnable activations"
        got = f"norm={model.norm!r}, dropout={model.dropout_rate}, " + (
            "learnable activations" if model.activations is not None else "a fixed activation"
        )
        raise ValueError(message("model", what, got, where=where))
    if (sigma_w2 is None) != (sigma_b2 is None):
        raise ValueError(
            message("sigma_w2, sigma_b2", "both (NTK parameterisation) or neither (standard)",
                    f"sigma_w2={sigma_w2!r}, sigma_b2={sigma_b2!r}", where=where)
        )  # fmt: skip
    x1 = floating_batch(x1, "x1", features=model.in_features, where=where)
    x2 = x1 if x2 is None else floating_batch(x2, "x2", features=model.in_features, where=where)
    output = integer(output, "output", minimum=0, where=where)
    if output >= model.out_features:
        raise ValueError(
            message("output", f"an output unit in [0, {model.out_features})", show(output),
                    where=where)
        )  # fmt: skip
    batch_size = integer(batch_size, "batch_size", minimum=1, where=where)
    fans = (model.in_features, *model.widths)
    if sigma_w2 is None:
        weight_scales, bias_scale = [1.0] * len(fans), 1.0
    else:
        sigma_w2 = number(sigma_w2, "sigma_w2", low=0.0, low_open=True, where=where)
        bias_scale = number(sigma_b2, "sigma_b2", low=0.0, where=where)
        weight_scales = [sigma_w2 / fan for fan in fans]

    inputs1, deltas1 = _all_features(model, x1, output, batch_size)
    inputs2, deltas2 = (
        (inputs1, deltas1) if x2 is x1 else _all_features(model, x2, output, batch_size)
    )
    # the read-out's signal is 1: its term is the last layer's input kernel alone
    theta = weight_scales[-1] * (inputs1[-1] @ inputs2[-1].T) + bias_scale
    for l in range(len(model.widths)):
        inner = weight_scales[l] * (inputs1[l] @ inputs2[l].T) + bias_scale
        theta = theta + inner * (deltas1[l] @ deltas2[l].T)
    return theta
