"""Load and save weights: ResLab checkpoints (safetensors + JSON metadata) and timm / torchvision layouts.

Nothing here unpickles code: safetensors files are plain tensors and other files go through
`torch.load(weights_only=True)`.
"""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Mapping

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save
from torch import nn

from .errors import ReslabError
from .files import atomic_write, write_bytes
from .spec import from_dict, spec_diff

METADATA_KEY = "reslab"
HEAD_PREFIXES = ("fc.", "classifier.", "head.fc.")


class WeightsError(ReslabError, ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says what differs."""


@dataclass(frozen=True)
class Layout:
    """A foreign state-dict layout: how to recognise its keys and rename them to and from ResLab's."""

    name: str  # "timm" or "torchvision"
    detect: Callable[[list[str]], bool]
    to_reslab: Callable[[str], str]
    from_reslab: Callable[[str], str]
    applies_to: Callable[[object], bool] = lambda spec: True  # can this layout express the spec?
    head_is_conv: bool = False  # classifier stored as a 1x1 convolution (out, in, 1, 1)


def _rename(rules: list[tuple[str, str]]) -> Callable[[str], str]:
    """A key renamer from (regex, replacement) rules applied in order."""
    compiled = [(re.compile(p), r) for p, r in rules]

    def rename(key: str) -> str:
        for pattern, repl in compiled:
            key = pattern.sub(repl, key)
        return key

    return rename


def _shift_stage(offset: int, src: str, dst: str) -> Callable[[str], str]:
    """Rename 'stages.i.blocks.j.' <-> 'layer{i+1}.j.' style stage prefixes, shifting the index by `offset`."""
    pattern = re.compile(src)

    def rename(key: str) -> str:
        return pattern.sub(lambda m: dst.format(int(m.group(1)) + offset, m.group(2)), key)

    return rename


def _chain(*fns: Callable[[str], str]) -> Callable[[str], str]:
    def run(key: str) -> str:
        for fn in fns:
            key = fn(key)
        return key

    return run


def _plain(spec) -> bool:
    """Specs whose keys are ResLab's own in timm's and torchvision's plain ResNet layout."""
    return not spec.preact and spec.stem != "space_to_depth"


# family -> foreign layouts; timm and torchvision share the plain ResNet layout, which is ResLab's own.
LAYOUTS: dict[str, list[Layout]] = {"resnet": [
    # timm's ResNetV2: pre-activation blocks in stages.i.blocks.j with norm1..3 before each conv
    Layout(
        "timm",
        detect=lambda keys: any(k.startswith("stages.0.blocks.") for k in keys) and "stem.conv.weight" in keys,
        to_reslab=_chain(_shift_stage(1, r"^stages\.(\d+)\.blocks\.(\d+)\.", "layer{}.{}."),
                         _rename([(r"^stem\.conv\.", "conv1."), (r"\.downsample\.conv\.", ".downsample.0."),
                                  (r"\.norm1\.", ".bn0."), (r"\.norm2\.", ".bn1."), (r"\.norm3\.", ".bn2."),
                                  (r"^head\.fc\.", "fc.")])),
        from_reslab=_chain(_shift_stage(-1, r"^layer(\d+)\.(\d+)\.", "stages.{}.blocks.{}."),
                           _rename([(r"^conv1\.", "stem.conv."), (r"\.downsample\.0\.", ".downsample.conv."),
                                    (r"\.bn0\.", ".norm1."), (r"\.bn1\.", ".norm2."), (r"\.bn2\.", ".norm3."),
                                    (r"^fc\.", "head.fc.")])),
        applies_to=lambda spec: spec.preact,
        head_is_conv=True,
    ),
    # timm's legacy SENet: the stem lives in layer0, SE in se_module, the classifier is last_linear.
    # Only it has the Caffe-style ceil-mode stem pooling, so specs with that pooling export to it.
    Layout(
        "timm",
        detect=lambda keys: "layer0.conv1.weight" in keys,
        to_reslab=_rename([(r"^layer0\.", ""), (r"\.se_module\.", ".se."), (r"^last_linear\.", "fc.")]),
        from_reslab=_rename([(r"^(conv1|bn1)\.", r"layer0.\1."), (r"\.se\.", ".se_module."),
                             (r"^fc\.", "last_linear.")]),
        applies_to=lambda spec: not spec.preact and spec.stem_pool == "max_ceil",
    ),
    Layout("torchvision", detect=lambda keys: "conv1.weight" in keys or "conv1.0.weight" in keys,
           to_reslab=lambda k: k, from_reslab=lambda k: k, applies_to=_plain),
    Layout("timm", detect=lambda keys: "conv1.weight" in keys or "conv1.0.weight" in keys,
           to_reslab=lambda k: k, from_reslab=lambda k: k, applies_to=_plain),
]}
# DenseNet: timm 1.0.29 and torchvision share one layout (features.denseblockN..., classifier), which is ResLab's
LAYOUTS["densenet"] = [
    Layout(zoo, detect=lambda keys: "features.conv0.weight" in keys, to_reslab=lambda k: k, from_reslab=lambda k: k)
    for zoo in ("torchvision", "timm")
]


def family_of(model: nn.Module) -> str:
    spec = getattr(model, "spec", None)
    if spec is None:
        raise WeightsError(f"{type(model).__name__} is not a ResLab model (it has no .spec)")
    return spec.to_dict()["family"]


# --- reading ---------------------------------------------------------------------------------------------
CONTAINER_KEYS = ("state_dict", "model", "model_state_dict")  # training checkpoints nest the weights
WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # added to every key by DataParallel/DDP and by torch.compile
FORMATS_READ = "safetensors, or a torch.save file of tensors (.pth, .pt, .bin, ...)"
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "lanczos")


def read_checkpoint(source) -> tuple[dict[str, torch.Tensor], dict]:
    """(state dict, ResLab metadata or {}) from a path or a mapping, without executing pickled code.

    The format comes from the file's first bytes, whatever its name; metadata is checked field by field.
    """
    if isinstance(source, Mapping):
        return _unwrap(dict(source), "the state dict"), {}
    if not isinstance(source, (str, os.PathLike)):
        raise WeightsError(f"weights must be a checkpoint path or a state dict, not a {type(source).__name__}")
    path = Path(source)
    if sniff_format(path) == "safetensors":
        return _read_safetensors(path)
    return _read_torch(path), {}


def sniff_format(path: Path) -> str:
    """'safetensors' (8-byte header length, then a JSON object) or 'torch' (a zip archive or a legacy pickle)."""
    if path.is_dir():
        raise WeightsError(f"{path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise WeightsError(f"checkpoint {str(path)!r} does not exist")
    with path.open("rb") as f:
        head = f.read(9)
    if not head:
        raise WeightsError(f"{path} is empty (0 bytes): an interrupted download or copy? Get the file again")
    if head[8:9] == b"{":
        return "safetensors"
    if head.startswith((b"PK", b"\x80")):
        return "torch"
    raise WeightsError(f"{path} is not a checkpoint: its content is none of the formats ResLab reads "
                       f"({FORMATS_READ})")


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(METADATA_KEY)
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several types for a damaged header or missing bytes
        raise WeightsError(f"{path} is a damaged or truncated safetensors file ({_first_line(e)})") from None
    return _unwrap(state, path), ({} if raw is None else parse_metadata(path, raw))


def _read_torch(path: Path) -> dict[str, torch.Tensor]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols on its way to refusing them
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f" (it references {found.group(1)})" if found else ""
        raise WeightsError(f"{path} holds pickled Python objects{what}, not only tensors: refused, since unpickling "
                           "can run code; save model.state_dict() with torch.save or as safetensors") from None
    except Exception as e:  # a torch file cut short or damaged
        raise WeightsError(f"{path} is a damaged or truncated PyTorch file ({_first_line(e)})") from None
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict (names mapped to tensors)")
    return _unwrap(dict(obj), path)


def _first_line(e: BaseException) -> str:
    return f"{type(e).__name__}: " + (str(e).strip().splitlines() or [""])[0]


def _unwrap(obj: dict, origin) -> dict[str, torch.Tensor]:
    """Accept the usual containers ({'state_dict': ...}, {'model': ...}) and strip wrapper prefixes."""
    for key in CONTAINER_KEYS:
        if key in obj and isinstance(obj[key], Mapping):
            obj = dict(obj[key])
            break
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{origin} is not a state dict: entries {bad[:5]} are not named tensors")
    if not obj:
        raise WeightsError(f"{origin} holds no tensors")
    while prefix := next((p for p in WRAPPER_PREFIXES if all(k.startswith(p) for k in obj)), None):
        obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def parse_metadata(path, raw: str) -> dict:
    """ResLab's JSON metadata, checked so that a damaged file fails here, naming the file and the field."""
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise WeightsError(f"{path}: its ResLab metadata is not valid JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(meta, dict):
        raise WeightsError(f"{path}: its ResLab metadata is a JSON {type(meta).__name__}, not an object")
    if "spec" not in meta:
        raise WeightsError(f"{path}: its ResLab metadata has no 'spec' field")
    spec = _field(path, "spec", meta["spec"], from_dict)
    if meta.get("preprocessing") is not None:
        _field(path, "preprocessing", meta["preprocessing"], check_preprocessing)
    if meta.get("classes") is not None:
        _field(path, "classes", meta["classes"], lambda classes: _check_classes(classes, spec.num_classes))
    return meta


def _field(path, name: str, value, parse):
    """parse(value) for metadata field `name`; any complaint becomes one WeightsError naming file and field."""
    if name != "classes" and not isinstance(value, dict):
        raise WeightsError(f"{path}: metadata field {name!r} must be a JSON object, got {type(value).__name__}")
    try:
        return parse(value)
    except (ReslabError, TypeError, ValueError) as e:  # SpecError, or a wrongly typed value
        raise WeightsError(f"{path}: metadata field {name!r} is invalid: {e}") from None


def check_preprocessing(d: dict):
    """A Preprocessing from metadata; ValueError naming the first unusable value."""
    from .registry import Preprocessing

    unknown = sorted(set(d) - {f.name for f in fields(Preprocessing)})
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}")
    pre = Preprocessing.from_dict(d)
    if not _is_int(pre.input_size) or pre.input_size < 1:
        raise ValueError(f"input_size must be a positive integer, got {pre.input_size!r}")
    if not (_is_number(pre.crop_pct) and 0 < pre.crop_pct <= 1):
        raise ValueError(f"crop_pct must be in (0, 1], got {pre.crop_pct!r}")
    if pre.interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation {pre.interpolation!r} is not one of {list(INTERPOLATIONS)}")
    for name in ("mean", "std"):
        values = getattr(pre, name)
        if not isinstance(values, tuple) or not values or not all(map(_is_number, values)):
            raise ValueError(f"{name} must be a list of numbers, got {values!r}")
    if len(pre.mean) != len(pre.std) or min(pre.std) <= 0:
        raise ValueError(f"std must be positive numbers, one per mean value, got mean {list(pre.mean)}, "
                         f"std {list(pre.std)}")
    return pre


def _check_classes(classes, num_classes: int) -> None:
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ValueError(f"must be a list of class names (strings), got {classes!r:.80}")
    if len(classes) != num_classes:
        raise ValueError(f"it names {len(classes)} classes but the classifier has {num_classes} outputs")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def detect_layout(model: nn.Module, keys: list[str]) -> Layout | None:
    """The foreign layout whose keys these are, or None when they already are ResLab's."""
    own = set(model.state_dict())
    if set(keys) <= own and len(own & set(keys)) >= len(own) // 2:
        return None
    for layout in LAYOUTS.get(family_of(model), []):
        if layout.detect(keys):
            return layout
    return None


def _find_layout(model: nn.Module, name: str) -> Layout:
    for layout in LAYOUTS.get(family_of(model), []):
        if layout.name == name and layout.applies_to(model.spec):
            return layout
    raise WeightsError(f"no {name} layout for this {type(model).__name__}; layouts: reslab, "
                       f"{sorted({l.name for l in LAYOUTS.get(family_of(model), [])})}")


def to_reslab_layout(model: nn.Module, state: dict[str, torch.Tensor], layout: str = "auto") -> dict:
    if layout == "reslab":
        return state
    conv = detect_layout(model, list(state)) if layout == "auto" else _find_layout(model, layout)
    if conv is None:
        return state
    state = {conv.to_reslab(k): v for k, v in state.items()}
    if conv.head_is_conv:
        state = {k: v.flatten(1) if k.startswith(HEAD_PREFIXES) and v.ndim == 4 else v for k, v in state.items()}
    return state


def load_weights(model: nn.Module, source, *, layout: str = "auto", allow_new_head: bool = False) -> dict:
    """Load `source` (path or state dict, ResLab/timm/torchvision layout) into `model`; returns the metadata.

    With `allow_new_head`, a classifier whose shape differs (another number of classes) is left freshly
    initialised and a warning says so; every other mismatch raises WeightsError naming the keys.
    """
    if layout not in ("auto", "reslab", "timm", "torchvision"):
        raise WeightsError(f"layout={layout!r}: choose auto, reslab, timm or torchvision")
    state, meta = read_checkpoint(source)
    origin = "checkpoint" if isinstance(source, Mapping) else f"checkpoint {source}"
    load_state(model, to_reslab_layout(model, state, "reslab" if meta else layout), meta, origin,
               allow_new_head=allow_new_head)
    return meta


def load_state(model: nn.Module, state: dict, meta: dict, origin: str = "checkpoint", *,
               allow_new_head: bool = False) -> None:
    """Load a state dict in ResLab's layout, or raise WeightsError naming every key that does not fit."""
    own = model.state_dict()
    # BatchNorm's step counter came with PyTorch 0.4.1; older checkpoints lack it and PyTorch itself accepts that
    state = {**{k: own[k] for k in own if k.endswith(".num_batches_tracked") and k not in state}, **state}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    head = [k for k in wrong + missing if k.startswith(HEAD_PREFIXES)]
    if allow_new_head and head and not (set(wrong + missing) - set(head)) and not unexpected:
        warnings.warn(f"checkpoint classifier does not fit this model ({', '.join(_shape_note(k, own, state) for k in head)}): "
                      "the head is re-initialised, the rest is loaded", stacklevel=3)
        state = {**state, **{k: own[k] for k in head}}  # keep the model's fresh head
        missing, wrong = [], []
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing keys {_clip(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_clip(unexpected)}")
        if wrong:
            parts.append("wrongly shaped keys " + _clip([_shape_note(k, own, state) for k in wrong]))
        raise WeightsError(f"{origin} does not fit {getattr(model, 'preset', None) or type(model).__name__}: "
                           + "; ".join(parts) + _rename_hint(missing, unexpected) + _spec_hint(model, meta))
    model.load_state_dict(state)


def _shape_note(key: str, own: dict, state: dict) -> str:
    got = tuple(state[key].shape) if key in state else "absent"
    return f"{key} (model {tuple(own[key].shape)}, checkpoint {got})"


def _clip(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _rename_hint(missing: list[str], unexpected: list[str]) -> str:
    """Say so when the unexpected keys are the missing ones under another first name ('linear.*' for 'fc.*')."""
    def by_first_name(keys):
        groups: dict[str, set[str]] = {}
        for key in keys:
            first, _, rest = key.partition(".")
            groups.setdefault(first, set()).add(rest)
        return groups

    ours = by_first_name(missing)
    renames = [f"'{theirs}.' -> '{name}.'" for theirs, rests in by_first_name(unexpected).items()
               for name, mine in ours.items() if rests == mine]
    return f" (the checkpoint seems to use other names: rename {', '.join(renames)})" if renames else ""


def _spec_hint(model: nn.Module, meta: dict) -> str:
    """Name the spec fields that differ when the checkpoint says which model it was saved from."""
    if not meta or not hasattr(model, "spec"):
        return ""
    differing = [name for name, _, _ in spec_diff(from_dict(meta["spec"]), model.spec)]
    return (f" (it was saved from {meta.get('preset') or 'a model'} whose spec differs in {', '.join(differing)}; "
            "reslab.load_model(path) rebuilds that model)") if differing else ""


# --- writing ---------------------------------------------------------------------------------------------
def metadata_of(model: nn.Module, **extra) -> dict:
    spec = model.spec
    pre = getattr(model, "preprocessing", None)
    return {"format": "reslab", "version": 1, "preset": getattr(model, "preset", None), "spec": spec.to_dict(),
            "num_classes": spec.num_classes, "input_size": spec.input_size,
            "preprocessing": pre.to_dict() if pre is not None else None, **extra}


def torch_bytes(obj) -> bytes:
    """torch.save into memory, so that the file itself is written by write_bytes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_weights(model: nn.Module, path, *, layout: str = "reslab", **metadata) -> Path:
    """Write the weights atomically. `layout="reslab"` writes safetensors with JSON metadata (spec, classes,
    input size, preprocessing); "timm"/"torchvision" rename the keys so the oracle's `load_state_dict` takes them
    (safetensors if the path ends so, else a tensor-only torch file)."""
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if layout == "reslab":
        if path.suffix != ".safetensors":
            raise WeightsError(f"ResLab checkpoints are safetensors files: name it {path.stem}.safetensors")
        data = safetensors_save(state, metadata={METADATA_KEY: _metadata_json(model, path, metadata)})
    else:
        conv = _find_layout(model, layout)
        if conv.head_is_conv:
            state = {k: v[..., None, None] if k.startswith(HEAD_PREFIXES) and v.ndim == 2 else v
                     for k, v in state.items()}
        state = {conv.from_reslab(k): v for k, v in state.items()}
        data = safetensors_save(state) if path.suffix == ".safetensors" else torch_bytes(state)
    atomic_write(path, lambda tmp: write_bytes(tmp, data))
    return path


def _metadata_json(model: nn.Module, path: Path, extra: dict) -> str:
    """The metadata as JSON, checked as a reader will check it: never write a file that cannot be read back."""
    try:
        text = json.dumps(metadata_of(model, **extra))
    except TypeError as e:
        raise WeightsError(f"cannot save {path}: metadata must be JSON values ({e})") from None
    parse_metadata(f"cannot save {path}", text)
    return text


def preprocessing_of(meta: dict, spec):
    """The checkpoint's preprocessing, or the default one at the spec's input size when it stores none."""
    from .registry import Preprocessing

    pre = meta.get("preprocessing")
    return Preprocessing.from_dict(pre) if pre else Preprocessing(input_size=spec.input_size)


def load_model(path) -> nn.Module:
    """Rebuild a model from a ResLab checkpoint alone: the one checkpoint-to-model path of every command.

    Spec, preprocessing and class names (`.classes`, None if the file has none) come from its metadata."""
    from .models import build

    state, meta = read_checkpoint(path)
    if not meta:
        raise WeightsError(f"{path} carries no ResLab metadata (spec, preprocessing): load it with "
                           f"create_model(name, weights={str(path)!r}) and save it with "
                           "reslab.save_weights(model, 'name.safetensors', classes=[...])")
    model = build(from_dict(meta["spec"]))
    model.preset = meta.get("preset")
    model.preprocessing = preprocessing_of(meta, model.spec)
    model.classes = meta.get("classes")  # checked against the classifier by read_checkpoint
    load_state(model, state, meta, f"checkpoint {path}")
    return model


# Res2Net (timm): the multi-scale 3x3's convs/bns sit directly on the block, not under conv2
_RES2 = [(r"\.conv2\.(convs|bns)\.", r".\1.")]
LAYOUTS["resnet"][:0] = [
    Layout("timm", detect=lambda keys: any(".convs.0." in k for k in keys),
           to_reslab=_rename([(r"\.(convs|bns)\.", r".conv2.\1.")]), from_reslab=_rename(_RES2),
           applies_to=lambda spec: spec.conv3x3 == "res2"),
    # SKNet (timm): the plain convolutions are ConvNormAct modules (conv + bn under one name)
    Layout("timm", detect=lambda keys: any(".conv2.paths.0." in k for k in keys),
           to_reslab=_rename([(r"\.conv(1|3)\.conv\.", r".conv\1."), (r"\.conv(1|3)\.bn\.", r".bn\1.")]),
           from_reslab=_rename([(r"\.conv(1|3)\.weight$", r".conv\1.conv.weight"), (r"\.bn(1|3)\.", r".conv\1.bn.")]),
           applies_to=lambda spec: spec.conv3x3 == "selective_kernel" and spec.block == "bottleneck"),
    Layout("timm", detect=lambda keys: any(".conv1.paths.0." in k for k in keys),
           to_reslab=_rename([(r"\.conv2\.conv\.", ".conv2."), (r"\.conv2\.bn\.", ".bn2.")]),
           from_reslab=_rename([(r"\.conv2\.weight$", ".conv2.conv.weight"), (r"\.bn2\.", ".conv2.bn.")]),
           applies_to=lambda spec: spec.conv3x3 == "selective_kernel" and spec.block == "basic"),
]


def _regnet_blocks(src: str, dst: str, block_offset: int) -> Callable[[str], str]:
    """Rename a (stage, block) key prefix, shifting the block index by `block_offset`."""
    pattern = re.compile(src)
    return lambda key: pattern.sub(lambda m: dst.format(s=m.group(1), b=int(m.group(2)) + block_offset), key)


def _is_regnet(spec) -> bool:
    return spec.stem == "conv3" and bool(spec.group_width) and not spec.preact


# RegNet: timm names stages s1.. and blocks b1.., with ConvNormAct convolutions; torchvision nests the stages
# in trunk_output and names the bottleneck's convolutions f.a, f.b, f.c
_TIMM_REGNET = [(r"^stem\.conv\.", "conv1."), (r"^stem\.bn\.", "bn1."), (r"\.conv(\d)\.conv\.", r".conv\1."),
                (r"\.conv(\d)\.bn\.", r".bn\1."), (r"\.downsample\.conv\.", ".downsample.0."),
                (r"\.downsample\.bn\.", ".downsample.1."), (r"^head\.fc\.", "fc.")]
_TV_REGNET = [(r"^stem\.0\.", "conv1."), (r"^stem\.1\.", "bn1."), (r"\.proj\.", ".downsample."),
              (r"\.f\.a\.0\.", ".conv1."), (r"\.f\.a\.1\.", ".bn1."), (r"\.f\.b\.0\.", ".conv2."),
              (r"\.f\.b\.1\.", ".bn2."), (r"\.f\.c\.0\.", ".conv3."), (r"\.f\.c\.1\.", ".bn3."), (r"\.f\.se\.", ".se.")]
LAYOUTS["resnet"][:0] = [
    Layout("timm", detect=lambda keys: "stem.conv.weight" in keys and any(k.startswith("s1.b1.") for k in keys),
           to_reslab=_chain(_regnet_blocks(r"^s(\d+)\.b(\d+)\.", "layer{s}.{b}.", -1), _rename(_TIMM_REGNET)),
           from_reslab=_chain(_regnet_blocks(r"^layer(\d+)\.(\d+)\.", "s{s}.b{b}.", 1),
                              _rename([(r"^conv1\.", "stem.conv."), (r"^bn1\.", "stem.bn."),
                                       (r"\.conv(\d)\.weight$", r".conv\1.conv.weight"), (r"\.bn(\d)\.", r".conv\1.bn."),
                                       (r"\.downsample\.0\.", ".downsample.conv."),
                                       (r"\.downsample\.1\.", ".downsample.bn."), (r"^fc\.", "head.fc.")])),
           applies_to=_is_regnet),
    Layout("torchvision", detect=lambda keys: any(k.startswith("trunk_output.block1.") for k in keys),
           to_reslab=_chain(_regnet_blocks(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.", "layer{s}.{b}.", 0),
                            _rename(_TV_REGNET)),
           from_reslab=_chain(_regnet_blocks(r"^layer(\d+)\.(\d+)\.", "trunk_output.block{s}.block{s}-{b}.", 0),
                              _rename([(r"^conv1\.", "stem.0."), (r"^bn1\.", "stem.1."),
                                       (r"\.downsample\.", ".proj."), (r"\.conv1\.", ".f.a.0."),
                                       (r"\.bn1\.", ".f.a.1."), (r"\.conv2\.", ".f.b.0."), (r"\.bn2\.", ".f.b.1."),
                                       (r"\.conv3\.", ".f.c.0."), (r"\.bn3\.", ".f.c.1."), (r"\.se\.", ".f.se.")])),
           applies_to=_is_regnet),
]

# TResNet (timm): everything under body., the space-to-depth stem in body.conv1, ConvNormAct convolutions, and
# a shortcut of (pool, ConvNormAct), without the pool in the unstrided first stage (ResLab keeps an Identity there)
LAYOUTS["resnet"][:0] = [
    Layout("timm", detect=lambda keys: "body.conv1.conv.weight" in keys,
           to_reslab=_rename([(r"^body\.conv1\.conv\.", "conv1.1."), (r"^body\.conv1\.bn\.", "bn1."), (r"^body\.", ""),
                              (r"\.downsample\.[01]\.conv\.", ".downsample.1."), (r"\.downsample\.[01]\.bn\.", ".downsample.2."),
                              (r"\.conv(\d)\.conv\.", r".conv\1."), (r"\.conv(\d)\.bn\.", r".bn\1."),
                              (r"^head\.fc\.", "fc.")]),
           from_reslab=_rename([(r"^conv1\.1\.", "body.conv1.conv."), (r"^bn1\.", "body.conv1.bn."),
                                (r"^layer1\.(\d+)\.downsample\.1\.", r"body.layer1.\1.downsample.0.conv."),
                                (r"^layer1\.(\d+)\.downsample\.2\.", r"body.layer1.\1.downsample.0.bn."),
                                (r"^layer", "body.layer"), (r"\.downsample\.1\.", ".downsample.1.conv."),
                                (r"\.downsample\.2\.", ".downsample.1.bn."), (r"\.conv(\d)\.weight$", r".conv\1.conv.weight"),
                                (r"\.bn(\d)\.", r".conv\1.bn."), (r"^fc\.", "head.fc.")]),
           applies_to=lambda spec: spec.stem == "space_to_depth"),
]
