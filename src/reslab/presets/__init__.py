"""Importing this package registers every preset; one module per family."""
from . import classic  # noqa: F401
