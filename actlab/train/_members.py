"""Operations on ensembles: join, select and rebuild members, train in segments.

* :func:`rebuild`: the same weights under another architecture with the same parameters (another
  activation, another compute dtype), without drawing them again (drawing compiles the random
  number generator: seconds per architecture on a CPU).
* :func:`concat`: several ensembles of one architecture as one, trained in one vmapped call.
* :func:`fit_segments`: :func:`fit_ensemble` in equal segments with a measurement at every
  boundary (dead units during training, say), with one compiled training program.
* :func:`choose_activation`: with :class:`actlab.models.ActivationChoice` layers, members with
  different activations train as one vmapped program (one compilation instead of one per
  activation; on a CPU compiling dominates small runs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from actlab.checks import message
from actlab.train._ensemble import Ensemble, fit_ensemble
from actlab.train._history import History


def rebuild(
    ensemble: Ensemble, make_model: Callable[[nnx.Rngs], nnx.Module], *, drop: str = ""
) -> Ensemble:
    """``ensemble``'s members as ``make_model`` builds them, with the same weights.

    Args:
      ensemble: the source members.
      make_model: an architecture whose state is the source's (minus ``drop``).
      drop: a top-level attribute whose state the target lacks: ``"activations"`` (the slopes
        of a PReLU network rebuilt as a ReLU one), ``"norms"`` (a batch-norm network rebuilt
        without normalisation).

    Raises:
      ValueError: the states do not match.
    """

    def keep(state: Any) -> Any:
        if not drop:
            return state
        return nnx.from_flat_state([(p, v) for p, v in nnx.to_flat_state(state) if p[0] != drop])

    params, rest = keep(ensemble.params), keep(ensemble.rest)
    target = nnx.eval_shape(lambda: make_model(nnx.Rngs(0)))
    _, want_params, want_rest = nnx.split(target, nnx.Param, ...)
    for have, want in ((params, want_params), (rest, want_rest)):
        if jax.tree.map(lambda a: a.shape[1:], have) != jax.tree.map(jnp.shape, want):
            raise ValueError(
                message("make_model", "an architecture with the source's state (minus drop)",
                        "one with another state", where="rebuild")
            )  # fmt: skip
    return dataclasses.replace(ensemble, graphdef=nnx.graphdef(target), params=params, rest=rest)


def concat(ensembles: Sequence[Ensemble]) -> Ensemble:
    """One ensemble holding the members of ``ensembles`` in order (same architecture).

    The result's ``grid_shape`` is ``(members, 1, 1)``; learning rates and init scales are
    concatenated (all or none of the parts must have them).
    """

    def join(*parts: Any) -> Any:  # on the host: no compilation per shape
        return jax.tree.map(lambda *a: np.concatenate([np.asarray(v) for v in a]), *parts)

    first = ensembles[0]

    def optional(name: str) -> np.ndarray | None:
        values = [getattr(e, name) for e in ensembles]
        return None if values[0] is None else np.concatenate(values)

    members = sum(e.size for e in ensembles)
    return dataclasses.replace(
        first,
        params=join(*(e.params for e in ensembles)),
        rest=join(*(e.rest for e in ensembles)),
        keys=jnp.concatenate([e.keys for e in ensembles]),
        learning_rate=optional("learning_rate"),
        init_scale=optional("init_scale"),
        grid_shape=(members, 1, 1),
        history=None,
    )


def select(ensemble: Ensemble, members: Any) -> Ensemble:
    """The members ``ensemble[members]`` (an index array), history included, as an ensemble.

    The result's ``grid_shape`` is ``(len(members), 1, 1)``.
    """
    idx = np.asarray(members, dtype=np.int64).reshape(-1)

    def take(a: Any) -> Any:
        return None if a is None else np.asarray(a)[idx]

    history = None if ensemble.history is None else ensemble.history.select(idx)
    return dataclasses.replace(
        ensemble,
        params=jax.tree.map(take, ensemble.params),
        rest=jax.tree.map(take, ensemble.rest),
        keys=ensemble.keys[idx],
        learning_rate=take(ensemble.learning_rate),
        init_scale=take(ensemble.init_scale),
        grid_shape=(idx.size, 1, 1),
        history=history,
    )


def replace_params(
    ensemble: Ensemble, fn: Callable[[tuple[Any, ...], jax.Array], jax.Array | None]
) -> Ensemble:
    """``ensemble`` with each parameter ``v`` at path ``p`` replaced by ``fn(p, v)`` (if not None).

    ``v`` (a NumPy array) has the leading member axis.
    """
    flat = []
    for path, var in nnx.to_flat_state(ensemble.params):
        new = fn(path, np.asarray(var[...]))
        flat.append((path, var if new is None else var.replace(new)))
    return dataclasses.replace(ensemble, params=nnx.from_flat_state(flat))


def fit_segments(
    ensemble: Ensemble,
    x: Any,
    y: Any,
    *,
    segments: int,
    steps: int,
    measure: Callable[[Ensemble], Any],
    **fit_kwargs: Any,
) -> tuple[Ensemble, History, list[Any]]:
    """Train ``segments`` times ``steps`` steps, calling ``measure`` before, between and after.

    Every segment is the same compiled program. The optimizer state restarts with each segment,
    so the run equals one of ``segments * steps`` steps exactly for a stateless optimizer (SGD);
    the mini-batch order of segment ``s`` is drawn from the members' keys folded with ``s``.

    Returns:
      ``(trained ensemble, joined history, [measure(...) at steps 0, steps, 2 steps, ...])``.
    """
    keys = ensemble.keys
    shuffled = fit_kwargs.get("batch_size") not in (None, len(x))
    measured, histories = [measure(ensemble)], []
    for s in range(segments):
        if shuffled:  # full batches need no keys (and folding them would compile)
            ensemble = dataclasses.replace(
                ensemble, keys=jax.vmap(lambda k, s=s: jax.random.fold_in(k, s))(keys)
            )
        ensemble = fit_ensemble(ensemble, x, y, steps=steps, **fit_kwargs)
        histories.append(ensemble.history)
        measured.append(measure(ensemble))
    history = History.join(histories, [s * steps for s in range(segments)])
    return dataclasses.replace(ensemble, keys=keys, history=history), history, measured


def finite_members(ensemble: Ensemble) -> np.ndarray:
    """Per member: every parameter finite and every recorded loss finite, ``(members,)`` bool."""
    ok = np.ones(ensemble.size, dtype=bool)
    for leaf in jax.tree.leaves(ensemble.params):
        ok &= np.all(np.isfinite(np.asarray(leaf).reshape(ensemble.size, -1)), axis=1)
    if ensemble.history is not None:
        ok &= np.all(np.isfinite(ensemble.history.loss), axis=1)
    return ok


def choose_activation(ensemble: Ensemble, index: int) -> Ensemble:
    """``ensemble`` with every :class:`actlab.models.ActivationChoice` set to choice ``index``."""
    flat = []
    for path, var in nnx.to_flat_state(ensemble.rest):
        value = np.full(np.shape(var[...]), index, np.int32)  # on the host
        flat.append((path, var.replace(value) if path[-1] == "which" else var))
    return dataclasses.replace(ensemble, rest=nnx.from_flat_state(flat))
