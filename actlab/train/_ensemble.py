"""Ensembles: many copies of one architecture (seeds x learning rates x init scales), built and
trained as one vmapped computation."""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.typing import ArrayLike

from actlab.checks import integer, message, positive_numbers, show
from actlab.train import losses
from actlab.train._fit import Evaluation, eval_outputs
from actlab.train._history import History
from actlab.train._loop import check_data, check_optimizer, plan, run


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """Many copies of one architecture, held as stacked states (leading member axis).

    Members form the grid ``seeds x learning_rates x init_scales`` in that (row-major) order:
    member ``i`` has ``np.unravel_index(i, grid_shape)``. Member ``i``'s initial parameters come
    from ``make_model(nnx.Rngs(init_key))`` and its mini-batch order from ``data_key``, where
    ``init_key, data_key = jax.random.split(keys[i])``; so a member equals
    :func:`fit` on that model with ``key=data_key`` (up to rounding).

    Attributes:
      graphdef: the NNX graph definition shared by all members.
      params: stacked ``nnx.Param`` state, every leaf of shape ``(members, ...)``.
      rest: stacked other state (batch statistics, RNG streams).
      keys: one ``jax.random`` key per member, shape ``(members,)``.
      learning_rate: per-member learning rate, shape ``(members,)``, or ``None``.
      init_scale: per-member multiplier of the weight variance, shape ``(members,)``, or ``None``.
      grid_shape: ``(len(seeds), len(learning_rates) or 1, len(init_scales) or 1)``.
      history: the :class:`History` of the last :func:`fit_ensemble`, or ``None``.
    """

    graphdef: Any
    params: Any
    rest: Any
    keys: jax.Array
    learning_rate: np.ndarray | None
    init_scale: np.ndarray | None
    grid_shape: tuple[int, int, int]
    history: History | None = None

    @property
    def size(self) -> int:
        """Number of members."""
        return int(np.prod(self.grid_shape))

    def __len__(self) -> int:
        return self.size

    def member(self, i: int) -> nnx.Module:
        """Member ``i`` as a standalone NNX module (a copy)."""
        if not isinstance(i, numbers.Integral) or not -self.size <= i < self.size:
            raise IndexError(
                message("i", f"an int in [0, {self.size})", show(i), where="Ensemble.member")
            )
        take = functools.partial(jax.tree.map, lambda a: a[i])
        return nnx.merge(self.graphdef, take(self.params), take(self.rest))

    def apply(self, x: ArrayLike) -> jax.Array:
        """Every member's eval-mode outputs on ``x``: shape ``(members, *model(x).shape)``."""
        x = jnp.asarray(x)
        return _apply_members(self.graphdef, self.params, self.rest, x)

    def evaluate(self, x: ArrayLike, y: ArrayLike, *, loss: losses.Loss) -> Evaluation:
        """Eval-mode loss and accuracy of every member on ``(x, y)``.

        Returns:
          An :class:`Evaluation` of NumPy arrays ``(members,)`` (accuracy ``None`` for losses
          without one).
        """
        x, y = check_data(x, y, loss, "Ensemble.evaluate")
        value, accuracy = _evaluate_members(self.graphdef, self.params, self.rest, x, y, loss)
        return Evaluation(
            np.asarray(value), np.asarray(accuracy) if losses.has_accuracy(loss) else None
        )


def _seed_keys(seeds: Any) -> jax.Array:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        seeds = range(integer(seeds, "seeds", minimum=1, where="init_ensemble"))
    if isinstance(seeds, jax.Array) and jax.dtypes.issubdtype(seeds.dtype, jax.dtypes.prng_key):
        if seeds.ndim != 1 or seeds.shape[0] == 0:
            raise ValueError(
                message("seeds", "a non-empty 1-D key array", f"shape {seeds.shape}",
                        where="init_ensemble")
            )  # fmt: skip
        return seeds
    values = list(seeds)
    if not values or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in values
    ):
        raise ValueError(
            message("seeds", "an int >= 1 (that many seeds 0, 1, ...), a non-empty sequence of "
                    "ints >= 0, or a 1-D jax.random key array", show(seeds), where="init_ensemble")
        )  # fmt: skip
    return jax.vmap(jax.random.key)(jnp.asarray(values, dtype=jnp.uint32))


def _scale_kernels(params: Any, scales: jax.Array) -> Any:
    """Multiply member ``i``'s ``kernel`` parameters by ``sqrt(scales[i])``."""

    def scale(v: Any) -> Any:
        factor = jnp.sqrt(scales).astype(v.dtype)
        return v.replace(v[...] * jnp.reshape(factor, (-1,) + (1,) * (v[...].ndim - 1)))

    flat = nnx.to_flat_state(params)
    return nnx.from_flat_state([(p, scale(v) if p[-1] == "kernel" else v) for p, v in flat])


class _ById:
    """Wraps an unhashable ``make_model`` so that it can be a static argument of ``jax.jit``."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __hash__(self) -> int:
        return id(self.fn)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ById) and other.fn is self.fn


def _hashable(fn: Callable[..., Any]) -> Callable[..., Any]:
    try:
        hash(fn)
    except TypeError:
        return _ById(fn)
    return fn


@functools.partial(jax.jit, static_argnames=("make_model",))
def _build_members(
    make_model: Callable[[nnx.Rngs], nnx.Module], seed_keys: jax.Array
) -> tuple[Any, Any]:
    """Stacked initial states, one model per seed (``lax.map``: it compiles like one model).

    Compiled once per ``make_model`` and number of seeds: pass the same function, or an equal
    hashable one, to reuse the compilation across calls.
    """

    def build(seed_key: jax.Array) -> tuple[Any, Any]:
        init_key, _ = jax.random.split(seed_key)
        _, params, rest = nnx.split(make_model(nnx.Rngs(init_key)), nnx.Param, ...)
        return params, rest

    return jax.lax.map(build, seed_keys)


def init_ensemble(
    make_model: Callable[[nnx.Rngs], nnx.Module],
    seeds: int | Sequence[int] | jax.Array,
    *,
    learning_rates: Sequence[float] | None = None,
    init_scales: Sequence[float] | None = None,
) -> Ensemble:
    r"""Build the members of an ensemble in one vmapped call.

    Args:
      make_model: ``make_model(rngs) -> nnx.Module``, for example
        ``lambda rngs: MLP(2, [16], 1, rngs=rngs)``; it must build the same architecture for
        every key.
      seeds: a number ``k`` (seeds ``0 .. k-1``), a sequence of ints, or a 1-D key array.
      learning_rates: optional learning rates to cross with the seeds; :func:`fit_ensemble` then
        takes an optimizer factory such as ``optax.adam``.
      init_scales: optional multipliers ``c`` of the weight variance: every ``kernel`` parameter
        is multiplied by ``sqrt(c)`` after ``make_model`` (so ``sigma_w2`` becomes
        ``c * sigma_w2``). Members with the same seed share the unscaled draw.

    Returns:
      An :class:`Ensemble` of ``len(seeds) * len(learning_rates) * len(init_scales)`` members.

    The members are built by one compiled function per ``make_model`` and number of seeds; a
    ``make_model`` that is equal across calls (a module-level function, or a frozen dataclass
    with ``__call__``) reuses it, while a fresh ``lambda`` compiles anew (about a second).
    """
    if not callable(make_model):
        raise TypeError(
            message(
                "make_model", "a callable rngs -> module", show(make_model), where="init_ensemble"
            )
        )
    seed_keys = _seed_keys(seeds)
    where = "init_ensemble"
    lrs = (
        None
        if learning_rates is None
        else positive_numbers(learning_rates, "learning_rates", where=where)
    )
    scales = (
        None if init_scales is None else positive_numbers(init_scales, "init_scales", where=where)
    )
    grid_shape = (
        seed_keys.shape[0],
        1 if lrs is None else lrs.size,
        1 if scales is None else scales.size,
    )
    s_idx, l_idx, c_idx = (a.reshape(-1) for a in np.indices(grid_shape))

    abstract = nnx.eval_shape(lambda: make_model(nnx.Rngs(0)))
    if not isinstance(abstract, nnx.Module):
        raise TypeError(
            message("make_model", "a callable returning an nnx.Module",
                    "one returning "
                    + ("an array" if isinstance(abstract, jax.ShapeDtypeStruct) else type(abstract).__name__),
                    where=where)
        )  # fmt: skip
    graphdef, _, _ = nnx.split(abstract, nnx.Param, ...)

    params, rest = _build_members(_hashable(make_model), seed_keys)
    expected = jax.tree.map(lambda a: (seed_keys.shape[0], *a.shape), nnx.state(abstract))
    if jax.tree.map(jnp.shape, nnx.merge_state(params, rest)) != expected:
        # a cached build of the same make_model object that now builds another architecture
        # (it reads changed globals): build again, uncached
        params, rest = _build_members(_ById(make_model), seed_keys)
    if grid_shape[1:] != (1, 1):
        params, rest = jax.tree.map(lambda a: a[s_idx], (params, rest))
    if scales is not None:
        params = _scale_kernels(params, jnp.asarray(scales[c_idx], jnp.float32))
    return Ensemble(
        graphdef=graphdef,
        params=params,
        rest=rest,
        keys=seed_keys[s_idx],
        learning_rate=None if lrs is None else lrs[l_idx],
        init_scale=None if scales is None else scales[c_idx],
        grid_shape=grid_shape,
    )


@functools.partial(jax.jit, static_argnames=("tx",))
def _init_member_states(tx: optax.GradientTransformation, params: Any) -> Any:
    return jax.vmap(tx.init)(params)


@functools.partial(jax.jit, static_argnames=("factory",))
def _init_member_states_with_rates(
    factory: Callable[..., optax.GradientTransformation], params: Any, rates: jax.Array
) -> Any:
    def init(p: Any, rate: jax.Array) -> Any:
        return optax.inject_hyperparams(factory)(learning_rate=rate).init(p)

    return jax.vmap(init)(params, rates)


@functools.cache
def _injected(factory: Callable[..., optax.GradientTransformation]) -> optax.GradientTransformation:
    """``factory`` with its learning rate read from the optimizer state (one object per factory,
    so repeated runs reuse the compiled loop)."""
    return optax.inject_hyperparams(factory)(learning_rate=1.0)


def fit_ensemble(
    ensemble: Ensemble,
    x: ArrayLike,
    y: ArrayLike,
    *,
    optimizer: optax.GradientTransformation | Callable[..., optax.GradientTransformation],
    loss: losses.Loss,
    steps: int,
    batch_size: int | None = None,
    clip_norm: float | None = None,
    record_every: int = 1,
    layer_steps: int | Sequence[int] | None = None,
    chunk_steps: int = 1000,
    progress: bool = True,
    on_nonfinite: str = "raise",
) -> Ensemble:
    r"""Train every member of ``ensemble`` on the same data, as one vmapped computation.

    Arguments as in :func:`fit`, except:

    Args:
      ensemble: from :func:`init_ensemble` (or a previous :func:`fit_ensemble`; the optimizer
        state starts afresh).
      optimizer: an ``optax.GradientTransformation``; or, when the ensemble has learning rates, a
        factory ``optimizer(learning_rate=...) -> GradientTransformation`` such as ``optax.adam``
        (wrapped in ``optax.inject_hyperparams`` so each member gets its own rate).

    Returns:
      A new :class:`Ensemble` with the trained states and its ``history`` (metrics with a
      leading member axis). On NaN/inf the error names the step and the member.
    """
    where = "fit_ensemble"
    check_ensemble(ensemble, where)
    if ensemble.learning_rate is None:
        tx = check_optimizer(optimizer, where)
        opt_state = _init_member_states(tx, ensemble.params)
    else:
        if isinstance(optimizer, optax.GradientTransformation) or not callable(optimizer):
            raise TypeError(
                message("optimizer", "a factory taking learning_rate (for example optax.adam), "
                        "as the ensemble has learning rates", show(optimizer), where=where)
            )  # fmt: skip
        tx = _injected(optimizer)
        opt_state = _init_member_states_with_rates(
            _hashable(optimizer), ensemble.params, jnp.asarray(ensemble.learning_rate, jnp.float32)
        )
    x, y = check_data(x, y, loss, where)
    planned = plan(x.shape[0], steps=steps, batch_size=batch_size, key=0,
                   record_every=record_every, layer_steps=layer_steps, chunk_steps=chunk_steps,
                   clip_norm=clip_norm, on_nonfinite=on_nonfinite, where=where)  # fmt: skip
    carry = (ensemble.params, ensemble.rest, opt_state)
    (params, rest, _), history = run(
        carry, ensemble.keys, x, y, graphdef=ensemble.graphdef, tx=tx, loss=loss, plan=planned,
        progress=progress, ensemble=True,
    )  # fmt: skip
    return dataclasses.replace(ensemble, params=params, rest=rest, history=history)


def check_ensemble(ensemble: Any, where: str) -> None:
    if not isinstance(ensemble, Ensemble):
        raise TypeError(
            message("ensemble", "an Ensemble (from init_ensemble)", type(ensemble).__name__,
                    where=where)
        )  # fmt: skip


@functools.partial(jax.jit, static_argnames=("graphdef", "loss"))
def _evaluate_members(
    graphdef: Any, params: Any, rest: Any, x: jax.Array, y: jax.Array, loss: losses.Loss
):
    def one(p: Any, r: Any) -> tuple[jax.Array, jax.Array]:
        return losses.resolve(loss)(eval_outputs(graphdef, p, r, x), y)

    return jax.vmap(one)(params, rest)


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _apply_members(graphdef: Any, params: Any, rest: Any, x: jax.Array) -> jax.Array:
    return jax.vmap(lambda p, r: eval_outputs(graphdef, p, r, x))(params, rest)
