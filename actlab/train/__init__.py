"""Optax training for Flax NNX models: one model, or many seeds at once as one computation.

- :func:`fit`, :func:`evaluate`: train one model in place; its eval-mode loss and accuracy.
- :func:`init_ensemble`, :func:`fit_ensemble`, :class:`Ensemble`: many copies of an architecture
  (seeds x learning rates x init scales) built and trained as one vmapped computation;
  :func:`concat`, :func:`select`, :func:`rebuild`, :func:`replace_params`,
  :func:`choose_activation`, :func:`fit_segments`, :func:`finite_members` work on them.
- :mod:`~actlab.train.losses`: the losses and the rule for a ``loss=`` argument.
- :class:`History`: what a run records; :func:`save`, :func:`load`: checkpoints.

Example::

    >>> import optax
    >>> from flax import nnx
    >>> from actlab import data, train
    >>> from actlab.models import MLP
    >>> ds = data.quadrants(256, seed=0, margin=0.1)
    >>> model = MLP(2, [8], 1, rngs=nnx.Rngs(0))
    >>> history = train.fit(model, ds.x, ds.y, optimizer=optax.adam(0.05),
    ...                     loss="sigmoid_binary_cross_entropy", steps=500, progress=False)
    >>> float(history.accuracy[-1]) > 0.95
    True
    >>> ens = train.init_ensemble(lambda rngs: MLP(2, [8], 1, rngs=rngs), seeds=16)
    >>> ens = train.fit_ensemble(ens, ds.x, ds.y, optimizer=optax.adam(0.05),
    ...                          loss="sigmoid_binary_cross_entropy", steps=500, progress=False)
    >>> ens.evaluate(ds.x, ds.y, loss="sigmoid_binary_cross_entropy").accuracy.shape
    (16,)
"""

from actlab.train import losses
from actlab.train._checkpoint import load, save
from actlab.train._ensemble import Ensemble, fit_ensemble, init_ensemble
from actlab.train._fit import Evaluation, evaluate, fit
from actlab.train._history import History
from actlab.train._loop import NonFiniteLossError
from actlab.train._members import (
    choose_activation,
    concat,
    finite_members,
    fit_segments,
    rebuild,
    replace_params,
    select,
)
from actlab.train.losses import LOSSES

__all__ = [
    "LOSSES",
    "Ensemble",
    "Evaluation",
    "History",
    "NonFiniteLossError",
    "choose_activation",
    "concat",
    "evaluate",
    "finite_members",
    "fit",
    "fit_ensemble",
    "fit_segments",
    "init_ensemble",
    "load",
    "losses",
    "rebuild",
    "replace_params",
    "save",
    "select",
]
