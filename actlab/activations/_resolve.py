"""What counts as an activation: the one rule every part of actlab applies to its arguments.

An activation argument is a registry name (``"relu"``), an activation from :func:`get` (parameters
bound), a learnable activation module (``actlab.models.PReLU``), or any callable ``f(x) -> y``.
:func:`resolve` turns it into the callable to apply; :func:`describe` finds the registry entry
behind it, for code that reasons about the function (region counting needs its kinks and pieces,
mean-field theory its closed forms).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from actlab.activations.registry import Activation, get, names, spec
from actlab.checks import message, show

ActivationLike = str | Activation | Callable[[jax.Array], jax.Array]
"""A registry name, an :class:`Activation`, a learnable activation module or a callable."""

_EXPECTED = (
    "a registry name, an activation from actlab.activations.get, a learnable activation module "
    "or a callable"
)


def describe(activation: Any) -> Activation | None:
    """The registry activation behind ``activation``, or ``None`` for a plain callable.

    A name gives ``get(name)``; an :class:`Activation` is returned as is; a registry function
    (``actlab.activations.relu``) gives its entry with default parameters; a learnable module
    with an ``as_activation()`` method (``PReLU``) gives the registry activation it computes with
    its current parameter values.

    Raises:
      ValueError: an unknown name.

    Example:
      >>> describe("leaky_relu")
      leaky_relu(negative_slope=0.01)
      >>> describe(lambda x: x) is None
      True
    """
    if isinstance(activation, str):
        return get(activation)
    if isinstance(activation, Activation):
        return activation
    as_activation = getattr(activation, "as_activation", None)
    if callable(as_activation):
        return as_activation()
    return describe_function(activation)


def resolve(
    activation: Any, *, where: str | None = None, elementwise: bool = True
) -> Callable[[jax.Array], jax.Array]:
    """The callable to apply for an activation argument.

    Args:
      activation: see the module docstring.
      where: the caller's name, for error messages.
      elementwise: reject registry activations that normalise along an axis (softmax).

    Returns:
      ``get(name)`` for a name; any other callable as given (a learnable module keeps its
      parameters, so gradients reach them).

    Raises:
      TypeError: not a name and not callable.
      ValueError: an unknown name, or a non-elementwise activation where one is needed.
    """
    act = get(activation) if isinstance(activation, str) else activation
    if not callable(act):
        raise TypeError(message("activation", _EXPECTED, show(activation), where=where))
    registered = act if isinstance(act, Activation) else describe_function(act)
    if elementwise and registered is not None and not spec(registered.name).elementwise:
        raise ValueError(
            message("activation", "an elementwise activation", repr(registered.name), where=where)
        )
    return act


def describe_function(fn: Any) -> Activation | None:
    """:func:`describe` for registry functions only (no name lookup, no module values read)."""
    for name in names():
        if fn is spec(name).fn:
            return get(name)
    return None


def switch(
    activations: Sequence[ActivationLike], index: ArrayLike
) -> Callable[[jax.Array], jax.Array]:
    """The activation ``activations[index]``, chosen by a (possibly traced) integer.

    With a traced ``index`` the result applies ``jax.lax.switch``, so a function of the activation
    can be vmapped over activations: one compiled program serves them all (under ``vmap`` every
    branch is computed and the right one selected, exactly). ``lax.switch`` clamps an index
    outside ``[0, len(activations))`` to the nearest end; a concrete index is checked instead.

    Args:
      activations: elementwise activations (see :func:`resolve`), at least one.
      index: integer scalar, Python or traced.

    Returns:
      A callable ``z -> activations[index](z)``.

    Example:
      >>> act = switch(("relu", "tanh"), jnp.int32(1))
      >>> float(act(jnp.float32(0.5)))  # tanh(0.5)
      0.46211...
    """
    fns = tuple(resolve(a, where="switch") for a in activations)
    if not fns:
        raise ValueError(message("activations", "at least one activation", "none", where="switch"))
    if isinstance(index, numbers.Integral) and not isinstance(index, bool):
        if not 0 <= index < len(fns):
            raise ValueError(
                message("index", f"an int in [0, {len(fns)})", str(index), where="switch")
            )
        return fns[int(index)]
    index = jnp.asarray(index)
    if index.shape != () or not jnp.issubdtype(index.dtype, jnp.integer):
        raise ValueError(
            message("index", "an integer scalar", f"{index.dtype}{index.shape}", where="switch")
        )
    return lambda z: jax.lax.switch(index, fns, z)
