"""Training: recipes as data, a TrainConfig per run, and the engine that runs it.

The engine (torch, data pipelines) is imported when first used, so reading a config or a recipe stays light.
"""
import sys
import types
from importlib import import_module

from .config import TrainConfig, default_job, from_recipe
from .recipes import RECIPES, get_recipe, rescale

_FROM_ENGINE = ("TrainResult", "TrainingDiverged", "train")


def __getattr__(name: str):
    if name not in _FROM_ENGINE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(".engine", __name__), name)


class _CallablePackage(types.ModuleType):
    """`reslab.train` names both this package and its `train` function (the README calls `reslab.train(cfg)`);
    whichever is imported first, calling the package runs the function."""

    def __call__(self, *args, **kwargs):
        return import_module(".engine", __name__).train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage

__all__ = ["RECIPES", "TrainConfig", "TrainResult", "TrainingDiverged", "default_job", "from_recipe", "get_recipe",
           "rescale", "train"]
