"""Settings of the regions-versus-depth experiment."""

from __future__ import annotations

import dataclasses

from actlab.experiments._setup import Presets
from actlab.regions.space import MAX_DIMENSION

NAME = "regions_vs_depth"
CONDITIONS = ("init_2d", "trained_2d", "init_digits", "trained_digits")
"""Measured settings: He initialisation or trained, on the moons plane or on digits slices."""
ZERO_BIAS = "zero_bias_2d"
"""The contrast: initialisation with zero biases, on the moons plane."""


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      widths: hidden widths (every hidden layer of a network has the same width).
      depths: numbers of hidden layers.
      train_widths, train_depths: the architectures also trained (subsets of the above).
      seeds: networks (random initialisations) per architecture and condition.
      sigma_b2: bias variance at initialisation (weights: He, ``sigma_w2 = 2``).
      n: moons training points.
      noise: moons noise.
      steps_2d, steps_digits: full-batch Adam steps on moons and on digits.
      learning_rate: Adam's learning rate.
      segments: segments (between random pairs of training points) per network.
      slices: digits planes (through three training images) per network.
      resolution: grid cells per axis of the sampled estimate.
      space_dims: input dimensions of the whole-space counts (Gaussian blobs, ``count_space``).
      space_widths: per entry of ``space_dims``, the widths measured there.
      space_depths: numbers of hidden layers of the whole-space networks.
      space_train_depths: the depths also trained on the blobs (every width).
      space_n: blobs training points (as many test points).
      space_steps: full-batch Adam steps on the blobs.
    """

    widths: tuple[int, ...] = (8, 16, 32)
    depths: tuple[int, ...] = tuple(range(1, 11))
    train_widths: tuple[int, ...] = (8, 16, 32)
    train_depths: tuple[int, ...] = tuple(range(1, 11))
    seeds: int = 3
    sigma_b2: float = 0.01
    n: int = 400
    noise: float = 0.1
    steps_2d: int = 1000
    steps_digits: int = 400
    learning_rate: float = 0.01
    segments: int = 512
    slices: int = 3
    resolution: int = 256
    space_dims: tuple[int, ...] = (3, 4)
    space_widths: tuple[tuple[int, ...], ...] = ((6, 10, 14), (6, 8, 10))
    space_depths: tuple[int, ...] = (1, 2, 3)
    space_train_depths: tuple[int, ...] = (1, 2, 3)
    space_n: int = 400
    space_steps: int = 400

    @classmethod
    def quick(cls) -> Config:
        """Seconds: width 16 at three depths, trained at depth 2 only; the whole-space counts
        (a few seconds) at every size, trained at depth 2."""
        return cls(
            widths=(16,),
            depths=(1, 2, 4),
            train_widths=(16,),
            train_depths=(2,),
            seeds=2,
            n=200,
            steps_2d=300,
            steps_digits=150,
            segments=64,
            slices=1,
            resolution=96,
            space_train_depths=(2,),
            space_n=200,
            space_steps=200,
        )

    def check(self) -> None:
        """``ValueError`` naming the first setting out of range."""
        for name in ("widths", "depths"):
            values = getattr(self, name)
            if not values or any(not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(
                    f"Config: {name}: expected a non-empty tuple of ints >= 1, received {values!r}"
                )
        for name, among in (("train_widths", self.widths), ("train_depths", self.depths)):
            if not set(getattr(self, name)) <= set(among):
                raise ValueError(
                    f"Config: {name}: expected a subset of {among}, received {getattr(self, name)!r}"
                )
        if len(self.space_widths) != len(self.space_dims) or any(
            d not in range(1, MAX_DIMENSION + 1) for d in self.space_dims
        ):
            raise ValueError(
                f"Config: space_dims, space_widths: expected input dimensions in 1.."
                f"{MAX_DIMENSION} and one tuple of widths per dimension, received "
                f"{self.space_dims!r} and {self.space_widths!r}"
            )
        for name, values in [("space_depths", self.space_depths),
                             *(("space_widths", w) for w in self.space_widths)]:  # fmt: skip
            if not values or any(not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(
                    f"Config: {name}: expected a non-empty tuple of ints >= 1, received {values!r}"
                )
        if not set(self.space_train_depths) <= set(self.space_depths):
            raise ValueError(
                f"Config: space_train_depths: expected a subset of {self.space_depths}, received "
                f"{self.space_train_depths!r}"
            )
        for name in ("seeds", "n", "steps_2d", "steps_digits", "segments", "slices", "space_n",
                     "space_steps"):  # fmt: skip
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(
                    f"Config: {name}: expected an int >= 1, received {getattr(self, name)!r}"
                )
        if not isinstance(self.resolution, int) or self.resolution < 2:
            raise ValueError(
                f"Config: resolution: expected an int >= 2, received {self.resolution!r}"
            )
        if not self.sigma_b2 > 0:
            raise ValueError(
                f"Config: sigma_b2: expected a bias variance > 0, received {self.sigma_b2!r}"
            )
