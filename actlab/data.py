"""Deterministic toy and small real data sets for activation experiments.

Every generator takes an explicit ``seed`` (an ``int >= 0`` or a ``jax.random`` key) and returns
a :class:`Dataset` of NumPy arrays: inputs ``x`` of shape ``(n, d)`` and dtype ``float32``, and
either integer class labels ``y`` of shape ``(n,)`` and dtype ``int32`` (classification) or float
targets of shape ``(n, k)`` and dtype ``float32`` (regression). The same seed gives the same arrays
on every platform (NumPy's PCG64 generator, seeded from the int or the key's bits).

Example::

    >>> from actlab import data
    >>> ds = data.quadrants(200, seed=0, margin=0.1)
    >>> ds.x.shape, ds.x.dtype, ds.y.shape, ds.y.dtype
    ((200, 2), dtype('float32'), (200,), dtype('int32'))
    >>> train, test = data.digits(seed=0)
    >>> train.x.shape[1], int(train.y.max()) + 1
    (64, 10)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from actlab.checks import integer, message, number, prng_key

__all__ = [
    "Dataset",
    "blobs",
    "bounding_box",
    "circles",
    "digits",
    "load",
    "moons",
    "names",
    "quadrants",
    "spirals",
    "teacher_student",
    "train_test_split",
    "xor",
]

Seed = int | jax.Array


class Dataset(NamedTuple):
    """Inputs and targets of one data set.

    Attributes:
      x: inputs, shape ``(n, d)``, dtype ``float32``.
      y: class labels, shape ``(n,)``, dtype ``int32`` in ``[0, num_classes)``; or regression
        targets, shape ``(n, k)``, dtype ``float32``.
    """

    x: np.ndarray
    y: np.ndarray


# ----------------------------------------------------------------------------- argument checks


def _rng(seed: Seed) -> np.random.Generator:
    """A NumPy generator from an ``int >= 0`` or a ``jax.random`` key (typed or raw uint32)."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))  # an int seeds NumPy directly
    bits = jax.random.key_data(prng_key(seed, "seed"))
    return np.random.default_rng(np.asarray(bits, dtype=np.uint64).tolist())


def _count(name: str, value: Any) -> int:
    return integer(value, name, minimum=1)


def _nonnegative(name: str, value: Any) -> float:
    return number(value, name, low=0.0)


def _positive(name: str, value: Any) -> float:
    return number(value, name, low=0.0, low_open=True)


def bounding_box(x: np.ndarray, *, margin: float = 0.1, decimals: int = 1) -> np.ndarray:
    """The box around points ``x`` ``(n, d)``, widened by ``margin`` of its size on every side and
    rounded to ``decimals``: ``(d, 2)`` rows ``(lo, hi)``, as the region counters take it.

    Example::

        >>> bounding_box(np.array([[0.0, 0.0], [1.0, 2.0]])).tolist()
        [[-0.1, 1.1], [-0.2, 2.2]]
    """
    x = np.asarray(x, dtype=np.float64)
    low, high = x.min(axis=0), x.max(axis=0)
    pad = _nonnegative("margin", margin) * (high - low)
    return np.round(np.stack([low - pad, high + pad], axis=1), decimals)


def _dataset(x: np.ndarray, y: np.ndarray) -> Dataset:
    y = np.asarray(y)
    y = y.astype(np.int32) if np.issubdtype(y.dtype, np.integer) else y.astype(np.float32)
    return Dataset(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y))


def _rejection_sample(
    n: int,
    rng: np.random.Generator,
    accept: Callable[[np.ndarray], np.ndarray],
    what: str,
) -> np.ndarray:
    """``n`` points uniform on ``[-1, 1]^2`` restricted to ``accept``, in draw order."""
    kept: list[np.ndarray] = []
    total = 0
    for _ in range(200):
        batch = rng.uniform(-1.0, 1.0, size=(max(2 * n, 256), 2))
        batch = batch[accept(batch)]
        kept.append(batch)
        total += len(batch)
        if total >= n:
            return np.concatenate(kept)[:n]
    raise ValueError(
        message(
            "margin",
            "a margin that leaves room in the square [-1, 1]^2",
            "one that does not",
            where=what,
        )
    )


def _rotation(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


# ----------------------------------------------------------------------------- 2D classification


def quadrants(
    n: int = 200,
    *,
    seed: Seed = 0,
    margin: float = 0.0,
    noise: float = 0.0,
    rotation: float = 0.0,
    angle: float = math.pi / 2,
) -> Dataset:
    r"""One wedge against the rest: the data set of the classic argument for ReLU.

    Points are uniform on the square ``[-1, 1]^2``. Class 1 is the wedge of opening ``angle``
    between the rays at polar angles ``rotation`` and ``rotation + angle`` (the positive quadrant
    by default), class 0 everything else. The classes are not linearly separable, but two ReLU
    units whose lines are the wedge's edges separate them: class 1 is exactly where both are off.

    Args:
      n: number of points.
      seed: ``int >= 0`` or ``jax.random`` key.
      margin: points closer than ``margin`` to the wedge's two edges (rays from the origin) are
        not drawn; ``0 <= margin < 1``.
      noise: standard deviation of Gaussian noise added to the inputs after labelling (so a
        positive ``noise`` can move points across the boundary).
      rotation: polar angle of the wedge's first edge, in radians.
      angle: opening of the wedge in radians, ``0 < angle < pi``.

    Returns:
      ``Dataset`` with ``x`` of shape ``(n, 2)`` float32 and ``y`` of shape ``(n,)`` int32 in
      ``{0, 1}``.

    Example::

        >>> ds = quadrants(100, seed=1, margin=0.05)
        >>> in_quadrant = (ds.x[:, 0] > 0) & (ds.x[:, 1] > 0)
        >>> bool((in_quadrant == (ds.y == 1)).all())
        True
    """
    n, noise = _count("n", n), _nonnegative("noise", noise)
    margin = number(margin, "margin", low=0.0, high=1.0, high_open=True)
    rotation = number(rotation, "rotation")
    angle = number(angle, "angle", low=0.0, high=math.pi, low_open=True, high_open=True)
    rng = _rng(seed)
    edges = np.array([[math.cos(t), math.sin(t)] for t in (rotation, rotation + angle)])

    def in_wedge(p: np.ndarray) -> np.ndarray:
        # polar angle measured from the first edge, in [0, 2 pi)
        phi = np.mod(np.arctan2(p[:, 1], p[:, 0]) - rotation, 2 * math.pi)
        return phi < angle

    def edge_distance(p: np.ndarray) -> np.ndarray:
        along = np.maximum(p @ edges.T, 0.0)  # (m, 2) projection onto each ray, clipped at apex
        gaps = p[:, None, :] - along[:, :, None] * edges[None, :, :]
        return np.linalg.norm(gaps, axis=-1).min(axis=1)

    x = _rejection_sample(n, rng, lambda p: edge_distance(p) >= margin, "quadrants")
    y = in_wedge(x).astype(np.int32)
    x = x + noise * rng.standard_normal(x.shape)
    return _dataset(x, y)


def xor(n: int = 200, *, seed: Seed = 0, margin: float = 0.0, noise: float = 0.0) -> Dataset:
    r"""XOR of the signs: class 1 in the quadrants where ``x_0 x_1 > 0``, class 0 in the others.

    Points are uniform on ``[-1, 1]^2`` with ``|x_0| >= margin`` and ``|x_1| >= margin``. Two ReLU
    units separate the classes only when the margin is wide (``margin > 1/3`` suffices: class 1
    then has ``|x_0 + x_1| >= 2 margin > 1 - margin``, above every class-0 point); four always do,
    since ``sign(x_0 x_1) = sign(|x_0 + x_1| - |x_0 - x_1|)``.

    Args:
      n: number of points.
      seed: ``int >= 0`` or ``jax.random`` key.
      margin: half-width of the empty bands around both axes, ``0 <= margin < 1``.
      noise: standard deviation of Gaussian noise added to the inputs after labelling.

    Returns:
      ``Dataset`` with ``x`` of shape ``(n, 2)`` float32 and ``y`` of shape ``(n,)`` int32 in
      ``{0, 1}``.
    """
    n, noise = _count("n", n), _nonnegative("noise", noise)
    margin = number(margin, "margin", low=0.0, high=1.0, high_open=True)
    rng = _rng(seed)
    x = _rejection_sample(n, rng, lambda p: np.abs(p).min(axis=1) >= margin, "xor")
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int32)
    x = x + noise * rng.standard_normal(x.shape)
    return _dataset(x, y)


def _split_counts(n: int, classes: int) -> list[int]:
    """``n`` split into ``classes`` counts differing by at most one, larger counts first."""
    return [n // classes + (1 if c < n % classes else 0) for c in range(classes)]


def moons(n: int = 200, *, seed: Seed = 0, noise: float = 0.1) -> Dataset:
    r"""Two interleaved half circles (the ``make_moons`` layout of scikit-learn).

    Class 0: ``(cos t, sin t)``, class 1: ``(1 - cos t, 1/2 - sin t)``, ``t`` uniform on
    ``[0, pi]``; then Gaussian noise of standard deviation ``noise``.

    Args:
      n: number of points (class 0 gets the extra one when ``n`` is odd).
      seed: ``int >= 0`` or ``jax.random`` key.
      noise: standard deviation of the Gaussian noise on the inputs.

    Returns:
      ``Dataset`` with ``x`` (n, 2) float32 and ``y`` (n,) int32 in ``{0, 1}``.
    """
    n = _count("n", n)
    noise = _nonnegative("noise", noise)
    rng = _rng(seed)
    n0, n1 = _split_counts(n, 2)
    t0, t1 = rng.uniform(0.0, math.pi, n0), rng.uniform(0.0, math.pi, n1)
    x = np.concatenate(
        [np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)]
    )
    y = np.concatenate([np.zeros(n0), np.ones(n1)]).astype(np.int32)
    x = x + noise * rng.standard_normal(x.shape)
    perm = rng.permutation(n)
    return _dataset(x[perm], y[perm])


def circles(n: int = 200, *, seed: Seed = 0, noise: float = 0.05, factor: float = 0.5) -> Dataset:
    r"""Two concentric circles: class 0 on the unit circle, class 1 on radius ``factor``.

    Args:
      n: number of points (class 0 gets the extra one when ``n`` is odd).
      seed: ``int >= 0`` or ``jax.random`` key.
      noise: standard deviation of the Gaussian noise on the inputs.
      factor: radius of the inner circle, ``0 < factor < 1``.

    Returns:
      ``Dataset`` with ``x`` (n, 2) float32 and ``y`` (n,) int32 in ``{0, 1}``.
    """
    n = _count("n", n)
    noise = _nonnegative("noise", noise)
    factor = number(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
    rng = _rng(seed)
    n0, n1 = _split_counts(n, 2)
    t = rng.uniform(0.0, 2 * math.pi, n)
    radius = np.concatenate([np.ones(n0), np.full(n1, factor)])
    x = radius[:, None] * np.stack([np.cos(t), np.sin(t)], 1)
    y = np.concatenate([np.zeros(n0), np.ones(n1)]).astype(np.int32)
    x = x + noise * rng.standard_normal(x.shape)
    perm = rng.permutation(n)
    return _dataset(x[perm], y[perm])


def spirals(
    n: int = 200, *, seed: Seed = 0, classes: int = 2, turns: float = 1.5, noise: float = 0.02
) -> Dataset:
    r"""Interleaved Archimedean spirals, one arm per class.

    Arm ``c`` is ``r (cos(2 pi (turns r) + 2 pi c / classes), sin(...))`` for radius ``r``
    uniform on ``[0.05, 1]``, then Gaussian noise of standard deviation ``noise``.

    Args:
      n: number of points, split as evenly as possible over the classes.
      seed: ``int >= 0`` or ``jax.random`` key.
      classes: number of arms (and classes), ``>= 2``.
      turns: number of turns of each arm, ``> 0``.
      noise: standard deviation of the Gaussian noise on the inputs.

    Returns:
      ``Dataset`` with ``x`` (n, 2) float32 and ``y`` (n,) int32 in ``[0, classes)``.
    """
    n, classes = _count("n", n), integer(classes, "classes", minimum=2)
    turns, noise = _positive("turns", turns), _nonnegative("noise", noise)
    rng = _rng(seed)
    counts = _split_counts(n, classes)
    y = np.repeat(np.arange(classes), counts)
    r = rng.uniform(0.05, 1.0, n)
    theta = 2 * math.pi * turns * r + 2 * math.pi * y / classes
    x = r[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1)
    x = x + noise * rng.standard_normal(x.shape)
    perm = rng.permutation(n)
    return _dataset(x[perm], y[perm])


def blobs(
    n: int = 200,
    *,
    seed: Seed = 0,
    centers: int | Sequence[Sequence[float]] | np.ndarray = 3,
    dim: int = 2,
    std: float = 0.5,
    box: float = 3.0,
) -> Dataset:
    r"""Isotropic Gaussian blobs, one class per center.

    Args:
      n: number of points, split as evenly as possible over the centers.
      seed: ``int >= 0`` or ``jax.random`` key.
      centers: number of centers (drawn uniformly on ``[-box, box]^dim``) or an array of centers
        of shape ``(k, d)``, which then sets ``dim``.
      dim: input dimension when ``centers`` is a number.
      std: standard deviation of each blob, ``> 0``.
      box: half-width of the cube the random centers are drawn from, ``> 0``.

    Returns:
      ``Dataset`` with ``x`` (n, d) float32 and ``y`` (n,) int32 in ``[0, k)``.
    """
    n = _count("n", n)
    std, box = _positive("std", std), _positive("box", box)
    rng = _rng(seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        k, dim = _count("centers", centers), _count("dim", dim)
        means = rng.uniform(-box, box, size=(k, dim))
    else:
        means = np.asarray(centers, dtype=np.float64)
        if means.ndim != 2 or means.shape[0] == 0 or not np.isfinite(means).all():
            raise ValueError(
                message("centers", "an int >= 1 or a finite array of shape (k, d)",
                        f"shape {means.shape}")
            )  # fmt: skip
        k = means.shape[0]
    y = np.repeat(np.arange(k), _split_counts(n, k))
    x = means[y] + std * rng.standard_normal((n, means.shape[1]))
    perm = rng.permutation(n)
    return _dataset(x[perm], y[perm])


# ----------------------------------------------------------------------------- regression


def teacher_student(
    n: int = 256,
    *,
    seed: Seed = 0,
    in_features: int = 2,
    widths: Sequence[int] = (16,),
    out_features: int = 1,
    activation: Any = "relu",
    sigma_w2: float = 2.0,
    sigma_b2: float = 0.0,
    noise: float = 0.0,
) -> Dataset:
    r"""Regression targets from a random "teacher" MLP on Gaussian inputs.

    ``x ~ N(0, I)``; the teacher has hidden layers of ``widths`` with the registry
    ``activation``, weights ``N(0, sigma_w2 / fan_in)`` and biases ``N(0, sigma_b2)``, and an
    affine read-out with weights ``N(0, 1 / fan_in)``; ``y = teacher(x) + noise * N(0, 1)``.
    The teacher's parameters are a function of ``seed`` alone.

    Args:
      n: number of points.
      seed: ``int >= 0`` or ``jax.random`` key.
      in_features: input dimension ``d``.
      widths: hidden widths of the teacher (may be empty: a linear teacher).
      out_features: target dimension ``k``.
      activation: the hidden layers' activation (see :func:`actlab.activations.resolve`).
      sigma_w2: weight variance times fan-in of the hidden layers, ``> 0``.
      sigma_b2: bias variance of the hidden layers, ``>= 0``.
      noise: standard deviation of the Gaussian noise added to the targets.

    Returns:
      ``Dataset`` with ``x`` (n, d) float32 and ``y`` (n, k) float32.
    """
    from actlab.models import forward  # here, to keep ``import actlab.data`` light

    n, in_features = _count("n", n), _count("in_features", in_features)
    out_features = _count("out_features", out_features)
    widths = [_count(f"widths[{i}]", w) for i, w in enumerate(widths)]
    sigma_w2, sigma_b2 = _positive("sigma_w2", sigma_w2), _nonnegative("sigma_b2", sigma_b2)
    noise = _nonnegative("noise", noise)
    rng = _rng(seed)
    x = rng.standard_normal((n, in_features))
    hidden, fan_in = [], in_features
    for width in widths:
        w = rng.standard_normal((fan_in, width)) * math.sqrt(sigma_w2 / fan_in)
        b = rng.standard_normal(width) * math.sqrt(sigma_b2)
        hidden.append((w.astype(np.float32), b.astype(np.float32)))
        fan_in = width
    w_out = rng.standard_normal((fan_in, out_features)) / math.sqrt(fan_in)
    readout = (w_out.astype(np.float32), np.zeros(out_features, np.float32))
    teacher = forward(hidden, x.astype(np.float32), activation=activation, readout=readout)
    y = np.asarray(teacher.output, np.float64) + noise * rng.standard_normal((n, out_features))
    return _dataset(x, y.astype(np.float32))


# ----------------------------------------------------------------------------- real data


def train_test_split(
    dataset: Dataset, *, test_fraction: float = 0.25, seed: Seed = 0
) -> tuple[Dataset, Dataset]:
    """Split a data set at random into training and test parts.

    Classification sets (integer ``y``) are split per class, so both parts keep the class
    proportions (up to rounding).

    Args:
      dataset: the data to split.
      test_fraction: fraction of the points in the test part, ``0 < test_fraction < 1``.
      seed: ``int >= 0`` or ``jax.random`` key.

    Returns:
      ``(train, test)``, each a ``Dataset`` with the input's dtypes.
    """
    test_fraction = number(
        test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True, high_open=True
    )
    rng = _rng(seed)
    n = len(dataset.x)
    if np.issubdtype(dataset.y.dtype, np.integer):
        test = []
        for c in np.unique(dataset.y):
            members = rng.permutation(np.flatnonzero(dataset.y == c))
            test.append(members[: round(test_fraction * len(members))])
        test_idx = np.sort(np.concatenate(test))
    else:
        test_idx = np.sort(rng.permutation(n)[: round(test_fraction * n)])
    if len(test_idx) in (0, n):
        raise ValueError(
            message("test_fraction", f"a fraction leaving both parts of the {n} points non-empty",
                    str(test_fraction))
        )  # fmt: skip
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    return (
        Dataset(dataset.x[~is_test], dataset.y[~is_test]),
        Dataset(dataset.x[is_test], dataset.y[is_test]),
    )


def digits(*, seed: Seed = 0, test_fraction: float = 0.25) -> tuple[Dataset, Dataset]:
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, no download), split in two.

    Pixel values (integers 0..16) are divided by 16, so inputs lie in ``[0, 1]``.

    Args:
      seed: ``int >= 0`` or ``jax.random`` key for the stratified split.
      test_fraction: fraction of each class in the test part, ``0 < test_fraction < 1``.

    Returns:
      ``(train, test)``: ``Dataset`` with ``x`` (m, 64) float32 and ``y`` (m,) int32 in
      ``[0, 10)``; the two parts together hold all 1797 images.
    """
    from sklearn.datasets import load_digits  # slow import, only here

    bunch = load_digits()
    full = _dataset(bunch.data / 16.0, bunch.target.astype(np.int32))
    return train_test_split(full, test_fraction=test_fraction, seed=seed)


# ----------------------------------------------------------------------------- registry


def _generators() -> dict[str, Callable[..., Any]]:
    return {
        "blobs": blobs,
        "circles": circles,
        "digits": digits,
        "moons": moons,
        "quadrants": quadrants,
        "spirals": spirals,
        "teacher_student": teacher_student,
        "xor": xor,
    }


def names() -> tuple[str, ...]:
    """Names accepted by :func:`load`, sorted."""
    return tuple(sorted(_generators()))


def load(name: str, **kwargs: Any) -> Dataset | tuple[Dataset, Dataset]:
    """The data set ``name`` (see :func:`names`) built with ``kwargs``.

    Example::

        >>> load("moons", n=10, seed=3).x.shape
        (10, 2)
    """
    table = _generators()
    if name not in table:
        raise ValueError(message("name", f"one of {', '.join(sorted(table))}", repr(name)))
    return table[name](**kwargs)
