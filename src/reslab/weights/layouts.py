"""Foreign state-dict layouts (timm, torchvision, Hugging Face transformers): how to recognise their keys and rename
them to and from ResLab's."""
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

    name: str  # "timm", "torchvision" or "transformers"
    detect: Callable[[list[str]], bool]
    to_reslab: Callable[[str], str]
    from_reslab: Callable[[str], str]
    applies_to: Callable[[object], bool] = lambda spec: True  # can this layout express the spec?
    head_is_conv: bool = False  # classifier stored as a 1x1 convolution (out, in, 1, 1)
    # what of the spec the layout's network cannot express (empty when applies_to accepts it), for the error
    misfits: Callable[[object], list[str]] | None = None
    # tensors the layout stores in another shape than ResLab (same values, e.g. a 1x1 conv as a Linear's matrix):
    # (ResLab key, tensor) -> ResLab's tensor, and (spec, ResLab key, tensor) -> the layout's tensor
    tensor_to_reslab: Callable[[str, torch.Tensor], torch.Tensor] | None = None
    tensor_from_reslab: Callable[[object, str, torch.Tensor], torch.Tensor] | None = None


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


def _renumber(src: str, dst: str, offset: int) -> Callable[[str], str]:
    """Rename a key part holding one index, shifting the index by `offset` ('layer.0.' <-> '.conv1.')."""
    pattern = re.compile(src)
    return lambda key: pattern.sub(lambda m: dst.format(int(m.group(1)) + offset), key)


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

# --- Hugging Face transformers' ResNet (ResNetModel, ResNetForImageClassification; microsoft/resnet-18 ... -152) ---
# Every convolution is a ConvLayer (convolution + normalization); the stem is embedder.embedder, the blocks are
# encoder.stages.i.layers.j with their convolutions numbered in layer.k and the projection in shortcut, and the
# classifier is classifier.1 (after a Flatten). The classification model keeps the network under resnet., the bare
# ResNetModel (and ResNetBackbone) has no prefix and no classifier. The architecture is fixed but for what the config
# sets: layer_type (basic / bottleneck with 4x expansion), depths, hidden_sizes, embedding_size, hidden_act (the
# stem's and the after-addition activation only: inside the blocks it is always relu, so ResLab's stem_act and
# residual_act), downsample_in_first_stage (stride 2 in the first stage too) and downsample_in_bottleneck (the
# bottleneck's stride on its first 1x1, ResLab's stride_on='1x1', not on the 3x3). The last three leave no trace in
# the weights: the loader reads them from a config.json beside the checkpoint when there is one
# (loading.check_transformers_config).
TRANSFORMERS_ACTS = {"relu": "relu", "leaky_relu": "leaky_relu", "silu": "silu", "gelu": "gelu"}  # ResLab -> HF
TRANSFORMERS_ACTS_IN = {**{v: k for k, v in TRANSFORMERS_ACTS.items()}, "swish": "silu"}  # HF -> ResLab


def transformers_misfits(spec) -> list[str]:
    """What of `spec` transformers' ResNet cannot express; empty when its config and weights give this network."""
    if spec.to_dict()["family"] != "resnet":
        return [f"the {spec.to_dict()['family']} family"]
    blocks = set(spec.stage_values("block"))
    checks = [
        (not spec.preact, "pre-activation blocks (preact=True)"),
        (spec.residual, "a plain network (residual=False)"),
        (spec.stem == "conv7", f"stem={spec.stem!r} (transformers has the single 7x7 stem only)"),
        (spec.stem_pool == "max", f"stem_pool={spec.stem_pool!r} (transformers has the 3x3/2 max pool only)"),
        (spec.shortcut == "projection", f"shortcut={spec.shortcut!r} (transformers projects with a strided 1x1)"),
        (spec.conv3x3 == "standard", f"conv3x3={spec.conv3x3!r}"),
        (set(spec.stage_values("attention")) == {"none"}, "attention (transformers' ResNet has none)"),
        (len(blocks) == 1, "basic and bottleneck stages mixed (transformers' layer_type is one for all stages)"),
        (all(e == (4 if b == "bottleneck" else 1) for b, e in zip(spec.stage_values("block"),
                                                                  spec.stage_values("expansion"))),
         f"expansion={spec.expansion} (transformers: 4 for bottleneck, 1 for basic blocks)"),
        (all(spec.groups_at(s) == 1 and (b == "basic" or spec.bottleneck_width(w, s) == w)
             for s, (b, w) in enumerate(zip(spec.stage_values("block"), spec.widths))),
         "grouped or widened bottlenecks (transformers' bottleneck is out_channels / 4 wide, ungrouped)"),
        (spec.stride_on in (("1x1", "3x3") if blocks == {"bottleneck"} else ("3x3",)),
         f"stride_on={spec.stride_on!r} (transformers strides the first 1x1 or the 3x3)"),
        (spec.strides[0] in (1, 2) and all(s == 2 for s in spec.strides[1:]),
         f"strides={spec.strides} (transformers: 1 or 2 in the first stage, 2 in the others)"),
        (all(d == 1 for _, d in spec.stage_strides_and_dilations()),
         f"output_stride={spec.output_stride} (transformers' ResNet has no dilation)"),
        (spec.act == "relu" and (spec.stem_act or spec.act) == (spec.residual_act or spec.act) in TRANSFORMERS_ACTS,
         f"act={spec.act!r}, stem_act={spec.stem_act!r}, residual_act={spec.residual_act!r} (transformers' blocks "
         f"use relu inside, its hidden_act is the stem's and the after-addition activation, one of "
         f"{', '.join(TRANSFORMERS_ACTS)})"),
    ]
    return [why for ok, why in checks if not ok]


_TRANSFORMERS_TO = _chain(
    _rename([(r"^resnet\.", "")]),
    _shift_stage(1, r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.", "layer{}.{}."),
    _renumber(r"\.layer\.(\d+)\.convolution\.", ".conv{}.", 1),
    _renumber(r"\.layer\.(\d+)\.normalization\.", ".bn{}.", 1),
    _rename([(r"^embedder\.embedder\.convolution\.", "conv1."), (r"^embedder\.embedder\.normalization\.", "bn1."),
             (r"\.shortcut\.convolution\.", ".downsample.0."), (r"\.shortcut\.normalization\.", ".downsample.1."),
             (r"^classifier\.1\.", "fc.")]))
# ResLab -> transformers writes ResNetForImageClassification's keys (ResNetModel.from_pretrained drops the prefix)
_TRANSFORMERS_FROM = _chain(
    _shift_stage(-1, r"^layer(\d+)\.(\d+)\.", "resnet.encoder.stages.{}.layers.{}."),
    _renumber(r"\.conv(\d)\.", ".layer.{}.convolution.", -1),
    _renumber(r"\.bn(\d)\.", ".layer.{}.normalization.", -1),
    _rename([(r"^conv1\.", "resnet.embedder.embedder.convolution."),
             (r"^bn1\.", "resnet.embedder.embedder.normalization."),
             (r"\.downsample\.0\.", ".shortcut.convolution."), (r"\.downsample\.1\.", ".shortcut.normalization."),
             (r"^fc\.", "classifier.1.")]))
TRANSFORMERS_STEM_KEYS = ("embedder.embedder.convolution.weight", "resnet.embedder.embedder.convolution.weight")

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
    # Hugging Face transformers (see above)
    Layout("transformers", detect=lambda keys: any(k in TRANSFORMERS_STEM_KEYS for k in keys),
           to_reslab=_TRANSFORMERS_TO, from_reslab=_TRANSFORMERS_FROM,
           applies_to=lambda spec: not transformers_misfits(spec), misfits=transformers_misfits),
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

# --- ConvNeXt: ResLab holds timm's names, its pointwise layers as 1x1 convs and its layer scale as a vector. timm
# nests the 1x1s and GRN in mlp. and the head in head.; it stores the 1x1s as Linear matrices in its models from
# tiny up and as convolutions in its four small ones (conv_mlp, atto to nano: stage-1 width under 96). torchvision
# numbers everything: stem features.0, stage i's blocks features.{2i+1}, its downsampling layer features.{2i},
# each block's layers block.0 (depthwise), .2 (norm), .3 and .5 (1x1s as Linear), layer_scale of shape (C, 1, 1).
_CONVNEXT_POINTWISE = re.compile(r"\.fc[12]\.weight$")


def convnext_misfits(spec, zoo: str) -> list[str]:
    """What of a ConvNeXt spec timm's or torchvision's ConvNeXt cannot express; empty when it can."""
    checks = [
        (spec.stem == "patchify", f"stem={spec.stem!r}"), (spec.downsample == "separate", "in-block downsampling"),
        (spec.spatial_first, "the spatial conv between the 1x1s"), (spec.group_width == 1, "a non-depthwise conv"),
        (spec.norm == "layer", "BatchNorm"), (spec.block_acts == spec.block_norms == "one", "several norms or "
                                               "activations per block"),
        (spec.conv_bias and spec.head_norm and spec.act == "gelu", "convolutions without bias, no head norm or "
                                                                   f"act={spec.act!r}"),
    ]
    if zoo == "torchvision":
        checks += [(not spec.grn, "GRN (ConvNeXt-V2)"), (spec.layer_scale > 0, "no layer scale"),
                   (spec.hidden_ratio == 4, f"hidden_ratio={spec.hidden_ratio}")]
    return [f"{why} ({zoo}'s ConvNeXt has no such option)" for ok, why in checks if not ok]


def _convnext_tensor_in(key: str, value: torch.Tensor) -> torch.Tensor:
    if _CONVNEXT_POINTWISE.search(key) and value.ndim == 2:
        return value[..., None, None]
    return value.flatten() if key.endswith(".layer_scale.gamma") else value


def _convnext_tensor_out(zoo: str):
    def out(spec, key: str, value: torch.Tensor) -> torch.Tensor:
        linear = zoo == "torchvision" or spec.dims[0] >= 96
        if _CONVNEXT_POINTWISE.search(key) and linear:
            return value.flatten(1)
        return value[:, None, None] if zoo == "torchvision" and key.endswith(".layer_scale.gamma") else value

    return out


def _tv_convnext_index(src: str, dst: str, scale: int, offset: int) -> Callable[[str], str]:
    """Rename 'stages.i.<part>.' <-> 'features.{scale * i + offset}.' key prefixes."""
    pattern = re.compile(src)
    return lambda key: pattern.sub(lambda m: dst.format(int(m.group(1)) * scale + offset, *m.groups()[1:]), key)


def _renumber_tv_features(key: str) -> str:
    """torchvision's 'features.{2i+1}.j.' -> 'stages.i.blocks.j.' and 'features.{2i}.k.' -> 'stages.i.downsample.k.'."""
    def rename(m: re.Match) -> str:
        index, rest = int(m.group(1)), m.group(2)
        return f"stages.{index // 2}.blocks.{rest}." if index % 2 else f"stages.{index // 2}.downsample.{rest}."

    return re.sub(r"^features\.(\d+)\.(\d+)\.", rename, key)


LAYOUTS["convnext"] = [
    Layout("timm", detect=lambda keys: "stem.0.weight" in keys and any(".mlp.fc1." in k for k in keys),
           to_reslab=_rename([(r"\.mlp\.(fc1|fc2|grn)\.", r".\1."), (r"\.gamma$", ".layer_scale.gamma"),
                              (r"^head\.norm\.", "head_norm."), (r"^head\.fc\.", "fc.")]),
           from_reslab=_rename([(r"\.(fc1|fc2|grn)\.", r".mlp.\1."), (r"\.layer_scale\.gamma$", ".gamma"),
                                (r"^head_norm\.", "head.norm."), (r"^fc\.", "head.fc.")]),
           applies_to=lambda spec: not convnext_misfits(spec, "timm"), misfits=lambda spec: convnext_misfits(spec, "timm"),
           tensor_to_reslab=_convnext_tensor_in, tensor_from_reslab=_convnext_tensor_out("timm")),
    Layout("torchvision", detect=lambda keys: "features.0.0.weight" in keys and any(".block.0." in k for k in keys),
           to_reslab=_chain(
               _rename([(r"^features\.0\.", "stem."), (r"^classifier\.0\.", "head_norm."), (r"^classifier\.2\.", "fc."),
                        (r"\.block\.0\.", ".conv_dw."), (r"\.block\.2\.", ".norm."), (r"\.block\.3\.", ".fc1."),
                        (r"\.block\.5\.", ".fc2."), (r"\.layer_scale$", ".layer_scale.gamma")]),
               _renumber_tv_features),
           from_reslab=_chain(
               _tv_convnext_index(r"^stages\.(\d+)\.blocks\.(\d+)\.", "features.{}.{}.", 2, 1),
               _tv_convnext_index(r"^stages\.(\d+)\.downsample\.", "features.{}.", 2, 0),
               _rename([(r"^stem\.", "features.0."), (r"^head_norm\.", "classifier.0."), (r"^fc\.", "classifier.2."),
                        (r"\.conv_dw\.", ".block.0."), (r"\.norm\.", ".block.2."), (r"\.fc1\.", ".block.3."),
                        (r"\.fc2\.", ".block.5."), (r"\.layer_scale\.gamma$", ".layer_scale")])),
           applies_to=lambda spec: not convnext_misfits(spec, "torchvision"),
           misfits=lambda spec: convnext_misfits(spec, "torchvision"),
           tensor_to_reslab=_convnext_tensor_in, tensor_from_reslab=_convnext_tensor_out("torchvision")),
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
    layouts = LAYOUTS.get(family_of(model), [])
    for layout in layouts:
        if layout.name == name and layout.applies_to(model.spec):
            return layout
    why = [m for layout in layouts if layout.name == name and layout.misfits for m in layout.misfits(model.spec)]
    because = f": {name} cannot express {'; '.join(why)}" if why else ""
    raise WeightsError(f"no {name} layout for this {getattr(model, 'preset', None) or type(model).__name__}"
                       f"{because}; layouts: reslab, {', '.join(sorted({l.name for l in layouts}))}")


def resolve_layout(model: nn.Module, keys: list[str], layout: str = "auto") -> Layout | None:
    """The foreign layout `layout` names ("auto": the one these keys are in), or None for ResLab's own."""
    if layout == "reslab":
        return None
    return detect_layout(model, keys) if layout == "auto" else find_layout(model, layout)


def to_reslab_layout(model: nn.Module, state: dict[str, torch.Tensor], layout: str = "auto") -> dict:
    return rename_to_reslab(state, resolve_layout(model, list(state), layout))


def rename_to_reslab(state: dict[str, torch.Tensor], conv: Layout | None) -> dict:
    """`state`'s keys renamed from the foreign layout `conv` to ResLab's (None: they already are ResLab's)."""
    if conv is None:
        return state
    state = {conv.to_reslab(k): v for k, v in state.items()}
    if conv.head_is_conv:
        state = {k: v.flatten(1) if k.startswith(HEAD_PREFIXES) and v.ndim == 4 else v for k, v in state.items()}
    if conv.tensor_to_reslab is not None:
        state = {k: conv.tensor_to_reslab(k, v) for k, v in state.items()}
    return state
