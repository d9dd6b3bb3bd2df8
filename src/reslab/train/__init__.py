"""Training: recipes as data, a TrainConfig per run, and the engine that runs it."""
import sys
import types

from .config import TrainConfig, default_job, from_recipe
from .engine import TrainResult, TrainingDiverged, train
from .recipes import RECIPES, get_recipe, rescale_epochs

__all__ = ["RECIPES", "TrainConfig", "TrainResult", "TrainingDiverged", "default_job", "from_recipe", "get_recipe",
           "rescale_epochs", "train"]


class _CallablePackage(types.ModuleType):
    """`reslab.train` names both this package and its `train` function (the README calls `reslab.train(cfg)`);
    whichever is imported first, calling the package runs the function."""

    def __call__(self, *args, **kwargs):
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
