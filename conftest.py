"""Strict settings for every test and docstring example of actlab.

- JAX: rank promotion raises, float64 only where a test asks for it, the CPU backend.
- Warnings raised from actlab's own modules (a deprecated JAX call, a NumPy division by zero,
  a ``UserWarning`` of ours) are errors: a warning in our code is a bug in our code.
- Docstring examples (``pytest --doctest-modules actlab``) run in a fresh temporary folder (so
  examples that write ``out/...`` leave nothing behind) with ``jax``, ``jnp``, ``np`` and
  ``nnx`` in scope; the examples of :mod:`actlab.experiments` run whole experiments and are
  marked ``slow``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _pytest.doctest import DoctestItem
from flax import nnx

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_enable_x64", False)
jax.config.update("jax_platforms", "cpu")


def pytest_configure(config):
    # the module field is a regular expression matched against the warning's module, i.e. the
    # module that triggered it (with its ``stacklevel``): ours, not a library's
    config.addinivalue_line("filterwarnings", r"error:::actlab(\.|$)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if isinstance(item, DoctestItem) and item.name.startswith("actlab.experiments"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _doctests_in_a_temporary_folder(request, tmp_path, monkeypatch, doctest_namespace):
    if isinstance(request.node, DoctestItem):
        monkeypatch.chdir(tmp_path)
        doctest_namespace.update(jax=jax, jnp=jnp, np=np, nnx=nnx)
    yield


@pytest.fixture
def x64():
    """Enable float64 for the duration of one test."""
    with jax.enable_x64(True):
        yield
