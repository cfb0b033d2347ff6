"""actlab: a JAX laboratory for activation functions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("actlab")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
