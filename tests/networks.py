"""Random networks for the region tests: He-scaled Gaussian weights and Gaussian biases, by NumPy."""

import numpy as np


def random_layers(seed, widths, inputs, bias_std=0.5):
    """Hidden layers ``[(W, b), ...]`` of the given widths on ``inputs`` inputs, float64."""
    rng = np.random.default_rng(seed)
    layers, fan_in = [], inputs
    for width in widths:
        weight = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, width))
        layers.append((weight, rng.normal(0.0, bias_std, width)))
        fan_in = width
    return layers
