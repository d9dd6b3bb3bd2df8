"""ResLab: the ResNet family as one library, from the 2015 original to ResNet-RS."""
from .factory import create_model, resolve_spec
from .info import model_info
from .models import build
from .registry import Preprocessing, Preset, get_preset, get_spec, list_models, list_presets
from .regnet import regnet_spec
from .spec import ResNetSpec, SpecError, from_dict, spec_diff
from .weights import load_weights, save_weights
from .finetune import freeze, freeze_bn, insert_attention, layer_decay_param_groups
from .backbones import backbone_with_fpn
from .export import fold_bn
from .predict import Predictor
from .train import TrainConfig, train  # the function shadows the subpackage name: import its parts with `from`

__version__ = "0.1.0"
__all__ = ["create_model", "resolve_spec", "model_info", "build", "Preprocessing", "Preset", "get_preset",
           "get_spec", "list_models", "list_presets", "ResNetSpec", "SpecError", "from_dict", "spec_diff",
           "load_weights", "save_weights", "regnet_spec"]
__all__ += ["freeze", "freeze_bn", "insert_attention", "layer_decay_param_groups", "backbone_with_fpn", "fold_bn",
            "Predictor"]
__all__ += ["train", "TrainConfig"]
