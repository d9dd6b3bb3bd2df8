"""The one error every part of reslab.weights raises."""
from __future__ import annotations

from ..errors import ReslabError


class WeightsError(ReslabError, ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says what differs."""
