"""What a training run records: per-step metrics and per-module gradient norms."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actlab.io import floats, jsonable, read_json, write_json


@dataclasses.dataclass
class History:
    """Metrics recorded during training.

    The metrics at step ``t`` belong to update ``t`` (0-based): the loss and accuracy of its
    mini-batch and the norm of its gradient, all at the parameters before the update. For an
    ensemble every metric array has a leading member axis.

    Attributes:
      step: recorded steps, shape ``(r,)``, int.
      loss: mini-batch loss, shape ``(r,)`` (or ``(members, r)``).
      accuracy: mini-batch accuracy in ``[0, 1]``, same shape, or ``None`` for losses without one
        (``"mse"``, custom losses).
      grad_norm: global L2 norm of the gradient (before clipping), same shape.
      layer_step: steps at which per-layer norms were kept, shape ``(s,)``.
      layer_grad_norms: per-module gradient L2 norm, keyed by the module's path in the model
        (``"hidden/0"``, ``"output"``, ``"activations/1"``, ...), each ``(s,)`` (or
        ``(members, s)``).
    """

    step: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray | None
    grad_norm: np.ndarray
    layer_step: np.ndarray
    layer_grad_norms: dict[str, np.ndarray]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (:func:`actlab.io.jsonable`: NaN as ``None``)."""
        return jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict` (``None`` entries come back as NaN)."""
        return cls(
            step=np.asarray(d["step"], dtype=np.int64),
            loss=floats(d["loss"]),
            accuracy=None if d["accuracy"] is None else floats(d["accuracy"]),
            grad_norm=floats(d["grad_norm"]),
            layer_step=np.asarray(d["layer_step"], dtype=np.int64),
            layer_grad_norms={k: floats(v) for k, v in d["layer_grad_norms"].items()},
        )

    def save_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` to ``path`` atomically (temporary file, then rename)."""
        return write_json(path, self.to_dict())

    @classmethod
    def load_json(cls, path: str | os.PathLike) -> History:
        """Read a history written by :meth:`save_json`."""
        return cls.from_dict(read_json(path))

    def select(self, members: np.ndarray) -> History:
        """The history of some ensemble members (an index array into the leading axis)."""

        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.asarray(a)[members]

        return dataclasses.replace(
            self,
            loss=take(self.loss),
            accuracy=take(self.accuracy),
            grad_norm=take(self.grad_norm),
            layer_grad_norms={k: take(v) for k, v in self.layer_grad_norms.items()},
        )

    @classmethod
    def join(cls, histories: Sequence[History], offsets: Sequence[int]) -> History:
        """Consecutive runs as one: run ``i``'s steps shifted by ``offsets[i]``."""

        def cat(values: Sequence[np.ndarray | None]) -> np.ndarray | None:
            return None if values[0] is None else np.concatenate(values, axis=-1)

        shifted = list(zip(histories, offsets, strict=True))
        return cls(
            step=np.concatenate([h.step + o for h, o in shifted]),
            loss=cat([h.loss for h in histories]),
            accuracy=cat([h.accuracy for h in histories]),
            grad_norm=cat([h.grad_norm for h in histories]),
            layer_step=np.concatenate([h.layer_step + o for h, o in shifted]),
            layer_grad_norms={
                k: cat([h.layer_grad_norms[k] for h in histories])
                for k in histories[0].layer_grad_norms
            },
        )
