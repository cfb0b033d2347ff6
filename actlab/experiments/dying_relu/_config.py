"""Settings of the dying-ReLU experiment."""

from __future__ import annotations

import dataclasses

from actlab.experiments._setup import Presets

NAME = "dying_relu"
LOSS = "softmax_cross_entropy"
ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu")
LABELS = {"relu": "ReLU", "leaky_relu": "leaky ReLU (0.01)", "prelu": "PReLU", "elu": "ELU"}
COLORS = {"relu": "#d62728", "leaky_relu": "#ff7f0e", "prelu": "#2ca02c", "elu": "#1f77b4"}


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      width: hidden units per layer of the trained networks.
      depth: hidden layers of the trained networks.
      seeds: initialisations per condition.
      segments: measurements during training (after each of ``segments`` equal segments).
      segment_steps: gradient-descent steps per segment.
      train_size: training images used (the first ones of the split); ``None``: all 1347.
      baseline_lr: the learning rate of the negative-bias runs; must be in ``learning_rates``.
      learning_rates: learning rates tried with zero biases, increasing.
      biases: constant initial hidden biases tried at ``baseline_lr``, each ``< 0``, decreasing.
      highlight_bias: the bias whose training curves are drawn; one of ``biases``.
      born_widths: widths ``N`` of the born-dead networks.
      born_depth: their depth ``L`` (every depth ``1..L`` is read off the same networks).
      born_seeds: random networks per width.
      born_inputs: Gaussian inputs per network.
      born_in_features: input dimension of the born-dead networks.
    """

    width: int = 32
    depth: int = 4
    seeds: int = 4
    segments: int = 8
    segment_steps: int = 50
    train_size: int | None = None
    baseline_lr: float = 0.05
    learning_rates: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0)
    biases: tuple[float, ...] = (-0.25, -0.5, -1.0)
    highlight_bias: float = -0.5
    born_widths: tuple[int, ...] = (2, 3, 4, 5, 6)
    born_depth: int = 30
    born_seeds: int = 4000
    born_inputs: int = 64
    born_in_features: int = 4

    @classmethod
    def quick(cls) -> Config:
        """Seconds: two seeds, two learning rates, one bias, three widths, 512 images."""
        return cls(
            seeds=2,
            segments=4,
            train_size=512,
            learning_rates=(0.05, 1.0),
            biases=(-0.5,),
            born_widths=(2, 3, 4),
            born_depth=20,
            born_seeds=1000,
        )

    def conditions(self) -> list[tuple[str, float, float]]:
        """``(kind, learning_rate, bias)`` per condition: the learning rates, then the biases."""
        return [("learning rate", lr, 0.0) for lr in self.learning_rates] + [
            ("bias", self.baseline_lr, b) for b in self.biases
        ]

    def check(self) -> None:
        """``ValueError`` unless ``baseline_lr`` is a learning rate and the biases are negative."""
        if self.baseline_lr not in self.learning_rates:
            raise ValueError(
                f"Config: baseline_lr: expected one of learning_rates {self.learning_rates} (the "
                f"zero-bias reference of the bias runs), received {self.baseline_lr}"
            )
        if (
            not self.biases
            or any(b >= 0 for b in self.biases)
            or self.highlight_bias not in self.biases
        ):
            raise ValueError(
                f"Config: biases: expected values < 0 with highlight_bias among them, received "
                f"biases={self.biases}, highlight_bias={self.highlight_bias}"
            )
