"""The error every data problem found before training raises."""
from ..errors import ReslabError


class DataError(ReslabError, ValueError):
    """A dataset that cannot be used: missing path, empty class, classes that do not line up."""
