"""Run JAX's own ``tests/nn_test.py`` with ``jax.nn``'s activations replaced by actlab's.

Every public name of ``jax.nn`` that ``actlab.activations`` also has is swapped in the ``jax.nn``
module before the test file is imported, so ``from jax import nn`` in it sees actlab's functions;
the rest of ``jax.nn`` (attention, initializers, one_hot, ...) stays JAX's. Get the file from a
checkout of jax-ml/jax at the installed JAX version, then:

    python tools/run_jax_nn_tests.py path/to/jax/tests/nn_test.py [pytest arguments]

Checked on the activation tests of that file near jax 0.10.2 (82 of them, restated, since the
file itself is not vendored here): all pass but ``testSoftmaxGradFlag``'s flag-off half, a
documented difference (README, "A drop-in for jax.nn").
"""

from __future__ import annotations

import sys

import jax
import pytest

from actlab import activations as A


def swap_in_actlab() -> list[str]:
    """Replace jax.nn's functions by actlab's where actlab has the name; the names swapped."""
    swapped = [n for n in dir(jax.nn) if not n.startswith("_") and hasattr(A, n)]
    for name in swapped:
        setattr(jax.nn, name, getattr(A, name))
    return swapped


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    print("actlab in jax.nn:", ", ".join(swap_in_actlab()))
    return pytest.main(["-p", "no:cacheprovider", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
