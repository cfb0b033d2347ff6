"""Random networks the region benchmarks share."""

from __future__ import annotations

import numpy as np


def he_layers(
    seed: int, inputs: int, widths: list[int], sigma_b2: float = 0.01
) -> list[tuple[np.ndarray, np.ndarray]]:
    """He-initialised hidden layers ``[(W (fan_in, width), b (width,)), ...]`` in float64:
    weights of variance ``2 / fan_in``, biases of variance ``sigma_b2``, from ``seed``."""
    rng = np.random.default_rng(seed)
    layers, fan_in = [], inputs
    for width in widths:
        weight = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, width))
        layers.append((weight, rng.normal(0.0, np.sqrt(sigma_b2), width)))
        fan_in = width
    return layers
