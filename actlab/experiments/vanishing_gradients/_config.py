"""Settings of the vanishing-gradients experiment."""

from __future__ import annotations

import dataclasses

from actlab.experiments._setup import Presets

NAME = "vanishing_gradients"
#: Bumped whenever the cell computation changes, so stored sweeps are recomputed.
VERSION = 1
#: The sigmoid's derivative is at most 1/4.
SIGMOID_BOUND = 0.25


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      activations: registry names, one panel each.
      sigma_w2: weight variance times fan-in for each activation (its usual initialisation:
        LeCun/Glorot 1 for sigmoid, tanh and SELU, He 2 for the ReLU family and GELU).
      sigma_b2: bias variance (shared).
      depths: numbers of hidden layers, increasing.
      seeds: random networks per (activation, depth).
      width: units per hidden layer (and input dimension).
      batch: Gaussian inputs per network.
      shown_depths: depths drawn in the per-layer figure (each must be in ``depths``).
      chunk: cells per device per compiled call (bounds memory; results do not depend on the
        number of devices).
      batch_seeds: vmap over the seeds too, so the whole sweep is one compilation; each cell
        then draws its own weights (``depth x width^2`` normals), cheap for narrow networks. If
        False, the seed is the sweep's static axis: one compilation per seed, and the weights of
        a seed are drawn once for all its cells. The numbers are the same either way.
      rate_tolerance: relative tolerance of the claim that theory predicts the per-layer rate.
      relu_tolerance: tolerance of the claim that ReLU at He initialisation has rate 1.
      theory_exceptions: activations left out of the claim that theory predicts the rate.
        GELU at He initialisation, because its length map is marginal on the way down from
        ``q = 2`` (``V'(q)`` within 3% of 1 for ``q`` in ``[1, 2]``): the variances of different
        inputs drift apart instead of converging (by 50% at layer 10 even at width 1024), and
        ``chi_1(q)`` changes from 0.98 to 0.5 over that range, so a batch's gradient does not
        follow ``chi_1`` at one common ``q^l``. Its rate is still measured and shown.
    """

    activations: tuple[str, ...] = (
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
    )
    sigma_w2: tuple[float, ...] = (1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 2.0)
    sigma_b2: float = 0.0
    depths: tuple[int, ...] = tuple(range(1, 51))
    seeds: int = 8
    width: int = 256
    batch: int = 32
    shown_depths: tuple[int, ...] = (10, 25, 50)
    chunk: int = 50
    batch_seeds: bool = False
    rate_tolerance: float = 0.05
    relu_tolerance: float = 0.05
    theory_exceptions: tuple[str, ...] = ("gelu",)

    @classmethod
    def quick(cls) -> Config:
        """A few seconds: depths up to 20, 2 seeds, width 64."""
        return cls(
            depths=(1, 2, 5, 10, 20),
            seeds=2,
            width=64,
            batch=16,
            shown_depths=(5, 20),
            chunk=70,
            batch_seeds=True,
            rate_tolerance=0.1,
            relu_tolerance=0.1,
        )

    def __post_init__(self) -> None:
        if len(self.sigma_w2) != len(self.activations) or not self.activations:
            raise ValueError(
                f"Config: sigma_w2: expected one per activation, received {len(self.sigma_w2)} "
                f"for {len(self.activations)} activations"
            )
        depths = list(self.depths)
        if not depths or depths != sorted(set(depths)) or depths[0] < 1 or depths[-1] < 2:
            raise ValueError(
                f"Config: depths: expected depths increasing from >= 1 to >= 2 (the per-layer "
                f"rate needs two layers), received {self.depths}"
            )
        if not set(self.shown_depths) <= set(self.depths):
            raise ValueError(
                f"Config: shown_depths: expected depths among {self.depths}, received "
                f"{self.shown_depths}"
            )
        for name in ("seeds", "width", "batch", "chunk"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"Config: {name}: expected an int >= 1, received {getattr(self, name)}"
                )
