"""Importing this package registers every preset: each of its modules registers its own, so a new family's presets
join by being a module here. `aliases` names presets the others register, so it comes last."""
import pkgutil
from importlib import import_module

_LAST = "aliases"
for _name in [*sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != _LAST), _LAST]:
    import_module(f"{__name__}.{_name}")
