"""Foreign state-dict layouts (timm, torchvision): how to recognise their keys and rename them to and from ResLab's."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .errors import WeightsError

HEAD_PREFIXES = ("fc.", "classifier.", "head.fc.")


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


def _regnet_blocks(src: str, dst: str, block_offset: int) -> Callable[[str], str]:
    """Rename a (stage, block) key prefix, shifting the block index by `block_offset`."""
    pattern = re.compile(src)
    return lambda key: pattern.sub(lambda m: dst.format(s=m.group(1), b=int(m.group(2)) + block_offset), key)


def _plain(spec) -> bool:
    """Specs whose keys are ResLab's own in timm's and torchvision's plain ResNet layout."""
    return not spec.preact and spec.stem != "space_to_depth"


def _is_regnet(spec) -> bool:
    return spec.stem == "conv3" and bool(spec.group_width) and not spec.preact


_RES2 = [(r"\.conv2\.(convs|bns)\.", r".\1.")]  # Res2Net, ResLab -> timm
# RegNet key renames, timm -> ResLab and torchvision -> ResLab (the layouts below say how they differ)
_TIMM_REGNET = [(r"^stem\.conv\.", "conv1."), (r"^stem\.bn\.", "bn1."), (r"\.conv(\d)\.conv\.", r".conv\1."),
                (r"\.conv(\d)\.bn\.", r".bn\1."), (r"\.downsample\.conv\.", ".downsample.0."),
                (r"\.downsample\.bn\.", ".downsample.1."), (r"^head\.fc\.", "fc.")]
_TV_REGNET = [(r"^stem\.0\.", "conv1."), (r"^stem\.1\.", "bn1."), (r"\.proj\.", ".downsample."),
              (r"\.f\.a\.0\.", ".conv1."), (r"\.f\.a\.1\.", ".bn1."), (r"\.f\.b\.0\.", ".conv2."),
              (r"\.f\.b\.1\.", ".bn2."), (r"\.f\.c\.0\.", ".conv3."), (r"\.f\.c\.1\.", ".bn3."), (r"\.f\.se\.", ".se.")]

# family -> foreign layouts, one ordered list per family. The order matters: detect_layout takes the FIRST layout
# whose `detect` matches the checkpoint's keys, and find_layout (export) the first of the asked name whose
# `applies_to` accepts the spec. timm and torchvision share the plain ResNet layout, which is ResLab's own; its two
# entries at the end detect any checkpoint with a conv1 and apply to every plain spec, so the specific layouts
# (TResNet, RegNet, Res2Net, SKNet, ResNetV2, legacy SENet) must all come before them.
LAYOUTS: dict[str, list[Layout]] = {"resnet": [
    # TResNet (timm): everything under body., the space-to-depth stem in body.conv1, ConvNormAct convolutions, and
    # a shortcut of (pool, ConvNormAct), without the pool in the unstrided first stage (ResLab keeps an Identity there)
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
    # RegNet: timm names stages s1.. and blocks b1.., with ConvNormAct convolutions; torchvision nests the stages
    # in trunk_output and names the bottleneck's convolutions f.a, f.b, f.c
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
    # Res2Net (timm): the multi-scale 3x3's convs/bns sit directly on the block, not under conv2
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
    # timm and torchvision: the plain ResNet layout, ResLab's own; they match any conv1, so they come last
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


def detect_layout(model: nn.Module, keys: list[str]) -> Layout | None:
    """The foreign layout whose keys these are, or None when they already are ResLab's."""
    own = set(model.state_dict())
    if set(keys) <= own and len(own & set(keys)) >= len(own) // 2:
        return None
    for layout in LAYOUTS.get(family_of(model), []):
        if layout.detect(keys):
            return layout
    return None


def find_layout(model: nn.Module, name: str) -> Layout:
    for layout in LAYOUTS.get(family_of(model), []):
        if layout.name == name and layout.applies_to(model.spec):
            return layout
    raise WeightsError(f"no {name} layout for this {type(model).__name__}; layouts: reslab, "
                       f"{sorted({l.name for l in LAYOUTS.get(family_of(model), [])})}")


def to_reslab_layout(model: nn.Module, state: dict[str, torch.Tensor], layout: str = "auto") -> dict:
    if layout == "reslab":
        return state
    conv = detect_layout(model, list(state)) if layout == "auto" else find_layout(model, layout)
    if conv is None:
        return state
    state = {conv.to_reslab(k): v for k, v in state.items()}
    if conv.head_is_conv:
        state = {k: v.flatten(1) if k.startswith(HEAD_PREFIXES) and v.ndim == 4 else v for k, v in state.items()}
    return state
