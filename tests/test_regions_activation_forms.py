"""Every region function takes an activation in every form (issue 11, "Also"): a name, an
``activations.get(...)`` object with parameters, a registry function, a learnable module; and
every one rejects a non-piecewise-linear activation with the same clear error."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

from actlab import activations as A
from actlab import regions
from actlab.models import PReLU

BOX = ((-1.0, 1.0), (-1.0, 1.0))
START, END = np.array([-1.0, -0.7]), np.array([1.0, 0.9])

COUNTERS = {
    "count_line": lambda layers, act: regions.count_line(layers, START, END, activation=act),
    "count_lines": lambda layers, act: int(
        regions.count_lines(layers, START[None], END[None], activation=act)[0]
    ),
    "partition_line": lambda layers, act: len(
        regions.partition_line(layers, START, END, activation=act)
    ),
    "count_plane": lambda layers, act: regions.count_plane(layers, bounds=BOX, activation=act),
    "partition_plane": lambda layers, act: len(
        regions.partition_plane(layers, bounds=BOX, activation=act)
    ),
    "count_sampled": lambda layers, act: regions.count_sampled(
        layers, regions.grid_points(BOX, 24), activation=act
    ),
    "count_space": lambda layers, act: regions.count_space(layers, bounds=BOX, activation=act),
    "partition_space": lambda layers, act: len(
        regions.partition_space(layers, bounds=BOX, activation=act)
    ),
    "local_complexity": lambda layers, act: np.asarray(
        regions.local_complexity(
            layers, regions.grid_points(BOX, 6), radius=0.3, activation=act
        ).per_layer
    ).tolist(),
}


@pytest.fixture(scope="module")
def layers():
    rng = np.random.default_rng(3)
    return [
        (rng.normal(size=(2, 5)), rng.normal(size=5)),
        (rng.normal(size=(5, 4)), rng.normal(size=4)),
    ]


@pytest.mark.parametrize("function", list(COUNTERS))
def test_every_form_of_one_activation_gives_the_same_answer(function, layers):
    count = COUNTERS[function]
    default = count(layers, "leaky_relu")
    assert count(layers, A.get("leaky_relu")) == default
    assert count(layers, A.leaky_relu) == default  # the registry function itself
    sloped = count(layers, A.get("leaky_relu", negative_slope=0.25))
    assert count(layers, A.get("prelu", slope=0.25)) == sloped
    assert count(layers, PReLU(rngs=nnx.Rngs(0))) == sloped  # its initial slope is 0.25
    assert count(layers, A.get("hard_tanh")) == count(layers, "hard_tanh")


@pytest.mark.parametrize("function", list(COUNTERS))
def test_every_function_rejects_a_smooth_activation_or_a_plain_callable(function, layers):
    count = COUNTERS[function]
    for smooth in ("gelu", A.get("elu", alpha=0.5)):
        with pytest.raises(ValueError, match="activation: expected a piecewise-linear activation"):
            count(layers, smooth)
    with pytest.raises(TypeError, match="activation: expected a piecewise-linear activation"):
        count(layers, lambda z: z)
