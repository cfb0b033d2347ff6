"""Strict JAX for every test: rank promotion raises, float64 only where a test asks for it."""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_enable_x64", False)
jax.config.update("jax_platforms", "cpu")


@pytest.fixture
def x64():
    """Enable float64 for the duration of one test."""
    with jax.enable_x64(True):
        yield
