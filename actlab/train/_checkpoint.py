"""Saving and loading trained models and ensembles: Orbax for the state, JSON for the rest."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from actlab.checks import message
from actlab.io import read_json, write_json
from actlab.train._ensemble import Ensemble
from actlab.train._history import History


def _saveable(state: Any) -> Any:
    """``state`` without RNG streams (typed keys do not go through Orbax; they are rebuilt)."""
    return nnx.filter_state(state, nnx.Not(nnx.RngState))


def save(
    directory: str | os.PathLike,
    obj: nnx.Module | Ensemble,
    history: History | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Save a trained model or ensemble: parameters with Orbax, the history as JSON.

    Writes ``directory/state`` (Orbax checkpoint of the parameters and batch statistics, without
    RNG streams), ``directory/history.json`` (``history``, or the ensemble's own), and for an
    ensemble ``directory/ensemble.json`` (keys, learning rates, init scales, grid shape). Orbax
    finalises its directory atomically; JSON files are written to a temporary file, then renamed.

    Args:
      directory: destination folder (created).
      obj: an NNX module or an :class:`Ensemble`.
      history: the run's history (for a module); ``None`` writes no history.
      overwrite: replace an existing checkpoint in ``directory``.

    Returns:
      The absolute directory.
    """
    import orbax.checkpoint as ocp  # slow import, only here

    directory = Path(directory).absolute()
    if (directory / "state").exists() and not overwrite:
        raise FileExistsError(
            message("directory", "a folder without a checkpoint (or overwrite=True)",
                    f"{directory}, which holds one", where="save")
        )  # fmt: skip
    if isinstance(obj, Ensemble):
        state = nnx.merge_state(obj.params, obj.rest)
        history = obj.history if history is None else history
        meta = {
            "keys": np.asarray(jax.random.key_data(obj.keys)).tolist(),
            "learning_rate": None if obj.learning_rate is None else obj.learning_rate.tolist(),
            "init_scale": None if obj.init_scale is None else obj.init_scale.tolist(),
            "grid_shape": list(obj.grid_shape),
        }
    elif isinstance(obj, nnx.Module):
        state, meta = nnx.state(obj), None
    else:
        raise TypeError(
            message("obj", "an nnx.Module or an Ensemble", type(obj).__name__, where="save")
        )
    directory.mkdir(parents=True, exist_ok=True)
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(directory / "state", nnx.to_pure_dict(_saveable(state)), force=overwrite)
        checkpointer.wait_until_finished()
    if meta is not None:
        write_json(directory / "ensemble.json", meta)
    if history is not None:
        history.save_json(directory / "history.json")
    elif (directory / "history.json").exists():
        (directory / "history.json").unlink()
    return directory


def load(
    directory: str | os.PathLike, like: nnx.Module | Ensemble
) -> tuple[nnx.Module | Ensemble, History | None]:
    """Load what :func:`save` wrote, into the structure of ``like``.

    Args:
      directory: the folder given to :func:`save`.
      like: a freshly built model of the same architecture (its parameters are replaced in
        place), or an ensemble from :func:`init_ensemble` with the same architecture and size.

    Returns:
      ``(model_or_ensemble, history)``; ``history`` is ``None`` when none was saved.
    """
    import orbax.checkpoint as ocp

    directory = Path(directory).absolute()
    if not (directory / "state").exists():
        raise FileNotFoundError(
            message("directory", "a folder written by save", f"{directory}, which holds no "
                    "checkpoint", where="load")
        )  # fmt: skip
    if isinstance(like, Ensemble):
        template = nnx.merge_state(like.params, like.rest)
    elif isinstance(like, nnx.Module):
        template = nnx.state(like)
    else:
        raise TypeError(
            message("like", "an nnx.Module or an Ensemble", type(like).__name__, where="load")
        )
    meta = None
    if isinstance(like, Ensemble):
        meta = read_json(directory / "ensemble.json")
        if tuple(meta["grid_shape"]) != like.grid_shape:
            raise ValueError(
                message("like", f"an ensemble of the saved grid shape {tuple(meta['grid_shape'])}",
                        f"grid shape {like.grid_shape}", where="load")
            )  # fmt: skip
    target = _saveable(template)
    abstract = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), nnx.to_pure_dict(target)
    )
    with ocp.StandardCheckpointer() as checkpointer:
        restored = checkpointer.restore(directory / "state", abstract)
    nnx.replace_by_pure_dict(target, restored)
    history_path = directory / "history.json"
    history = History.load_json(history_path) if history_path.exists() else None
    if isinstance(like, nnx.Module):
        nnx.update(like, target)
        return like, history
    merged = nnx.merge_state(template, target)
    params = nnx.filter_state(merged, nnx.Param)
    rest = nnx.filter_state(merged, nnx.Not(nnx.Param))
    lr, scale = meta["learning_rate"], meta["init_scale"]
    ensemble = Ensemble(
        graphdef=like.graphdef,
        params=params,
        rest=rest,
        keys=jax.random.wrap_key_data(jnp.asarray(meta["keys"], dtype=jnp.uint32)),
        learning_rate=None if lr is None else np.asarray(lr),
        init_scale=None if scale is None else np.asarray(scale),
        grid_shape=like.grid_shape,
        history=history,
    )
    return ensemble, history
