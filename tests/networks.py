"""Networks for the region tests: random (He-scaled Gaussian weights, Gaussian biases) and
degenerate (small half-integer weights, repeated, scaled, opposite and constant units)."""

import numpy as np

from actlab import activations as A


def random_layers(seed, widths, inputs, bias_std=0.5):
    """Hidden layers ``[(W, b), ...]`` of the given widths on ``inputs`` inputs, float64."""
    rng = np.random.default_rng(seed)
    layers, fan_in = [], inputs
    for width in widths:
        weight = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, width))
        layers.append((weight, rng.normal(0.0, bias_std, width)))
        fan_in = width
    return layers


VALUES = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0])
DEGENERATE_ACTIVATIONS = ("relu", A.get("leaky_relu", negative_slope=0.5), "hard_tanh")


def degenerate_network(seed: int, inputs: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """1-3 hidden layers of 1-7 units with weights in {-2, -1.5, ..., 2}; some units repeat an
    earlier one, are a scaled or opposite copy of it, or have no weights at all."""
    rng = np.random.default_rng(seed)
    layers, fan_in = [], inputs
    for _ in range(rng.integers(1, 4)):
        width = int(rng.integers(1, 8))
        w, b = rng.choice(VALUES, (fan_in, width)), rng.choice(VALUES, width)
        for j in range(1, width):
            kind, k = rng.random(), int(rng.integers(0, j))
            if kind < 0.2:  # a repeated unit
                w[:, j], b[j] = w[:, k], b[k]
            elif kind < 0.35:  # the same line, scaled or reversed
                scale = rng.choice([2.0, 0.5, -1.0, -2.0])
                w[:, j], b[j] = scale * w[:, k], scale * b[k]
            elif kind < 0.45:  # no weights: a constant unit, possibly on a kink
                w[:, j], b[j] = 0.0, rng.choice([0.0, 1.0, -1.0])
        layers.append((w, b))
        fan_in = width
    return layers


def degenerate_box(seed: int, inputs: int = 2) -> tuple[tuple[float, float], ...]:
    """A box with half-integer edges (which the integer lines pass through)."""
    rng = np.random.default_rng(seed + 10_000)
    sides = []
    for _ in range(inputs):
        lo, hi = np.sort(rng.choice(np.arange(-4, 5) / 2, 2, replace=False))
        sides.append((float(lo), float(hi)))
    return tuple(sides)
