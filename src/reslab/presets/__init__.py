"""Importing this package registers every preset; one module per family."""
from . import classic  # noqa: F401
from . import convnext  # noqa: F401
from . import crnn  # noqa: F401
from . import densenet  # noqa: F401
from . import modern  # noqa: F401
from . import regnet  # noqa: F401
from . import aliases  # noqa: F401  (last: aliases name presets registered above)
