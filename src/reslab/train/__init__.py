"""Training: recipes as data, a TrainConfig per run, and the engine that runs it."""
from .config import TrainConfig, default_job, from_recipe
from .engine import TrainResult, TrainingDiverged, train
from .recipes import RECIPES, get_recipe, rescale_epochs

__all__ = ["RECIPES", "TrainConfig", "TrainResult", "TrainingDiverged", "default_job", "from_recipe", "get_recipe",
           "rescale_epochs", "train"]
