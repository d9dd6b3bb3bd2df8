"""ResLab: the ResNet family as one library, from the 2015 original to ResNet-RS.

`import reslab` loads the specs and the preset registry (plain data, no torch); every other public name is
imported on first use, so `reslab --help` and `reslab models` start fast.
"""
from importlib import import_module

from . import presets  # noqa: F401  (each family module registers its presets)
from .registry import Preset, get_preset, get_spec, list_models, list_presets
from .spec import Preprocessing, ResNetSpec, SpecError, from_dict, regnet_spec, spec_diff

__version__ = "0.1.0"

# public name -> the module that defines it, imported when the name is first used
_LAZY = {
    "create_model": "factory", "resolve_spec": "factory", "model_info": "complexity", "build": "models",
    "load_weights": "weights", "save_weights": "weights", "list_weights": "weights", "get_weights": "weights",
    "weights_file": "weights", "freeze": "models.finetune", "freeze_bn": "models.finetune",
    "insert_attention": "models.finetune", "layer_decay_param_groups": "models.finetune",
    "backbone_with_fpn": "backbones",
    "fold_bn": "deploy.export", "Predictor": "deploy.predict", "train": "train", "TrainConfig": "train",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'reslab' has no attribute {name!r}")
    module = import_module(f".{_LAZY[name]}", __name__)
    value = module if module.__name__ == f"{__name__}.{name}" else getattr(module, name)  # reslab.train: callable
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["Preprocessing", "Preset", "ResNetSpec", "SpecError", "from_dict", "get_preset", "get_spec",
           "list_models", "list_presets", "regnet_spec", "spec_diff", *_LAZY]
