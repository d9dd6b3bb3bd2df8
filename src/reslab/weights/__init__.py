"""Load and save weights: ResLab checkpoints (safetensors + JSON metadata) and timm/torchvision/transformers layouts.

One idea per module, each importing only those before it:
- errors:   WeightsError.
- layouts:  the foreign key layouts per family, in the order they are tried, and the renaming to ResLab's keys.
- reading:  a checkpoint's format from its first bytes, unwrapping of containers and prefixes, metadata checks.
- fitting:  which registered preset a checkpoint's shapes fit (the hint of a load error).
- loading:  the load policy: a checkpoint into a model, or a model rebuilt from a ResLab checkpoint alone.
- writing:  save_weights, in ResLab's layout with metadata or in a foreign one.
- catalogue: published weights by name ('resnet50.a1_in1k'), read from catalogue.json (plain data, no torch).
- download: a catalogued weight set's file, from its source's cache or downloaded into it.

Nothing here unpickles code: safetensors files are plain tensors and other files go through
`torch.load(weights_only=True)`.
"""
from __future__ import annotations

from .errors import WeightsError
from .layouts import HEAD_PREFIXES, LAYOUTS, Layout, detect_layout, family_of, find_layout, to_reslab_layout
from .loading import load_model, load_state, load_weights, preprocessing_of
from .reading import METADATA_KEY, check_preprocessing, parse_metadata, read_checkpoint, sniff_format
from .writing import metadata_of, save_weights, torch_bytes
from .catalogue import WeightSet, get_weights, imagenet_classes, list_weights
from .download import cached_path, weights_file

__all__ = ["HEAD_PREFIXES", "LAYOUTS", "METADATA_KEY", "Layout", "WeightSet", "WeightsError", "cached_path",
           "check_preprocessing", "detect_layout", "family_of", "find_layout", "get_weights", "imagenet_classes",
           "list_weights", "load_model", "load_state", "load_weights", "metadata_of", "parse_metadata",
           "preprocessing_of", "read_checkpoint", "save_weights", "sniff_format", "to_reslab_layout", "torch_bytes",
           "weights_file"]
