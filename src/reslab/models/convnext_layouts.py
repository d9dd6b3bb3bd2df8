"""ConvNeXt's checkpoints: the timm and torchvision layouts its networks come in."""
from __future__ import annotations

import re

import torch

from .layout_rules import CheckpointRules, Layout, chain, rename, renumber

# ResLab holds timm's names, its pointwise layers as 1x1 convs and its layer scale as a vector. timm nests
# the 1x1s and GRN in mlp. and the head in head.; it stores the 1x1s as Linear matrices in its models from
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


def _renumber_tv_features(key: str) -> str:
    """torchvision's 'features.{2i+1}.j.' -> 'stages.i.blocks.j.' and 'features.{2i}.k.' -> 'stages.i.downsample.k.'."""
    def to_stage(m: re.Match) -> str:
        index, rest = int(m.group(1)), m.group(2)
        return f"stages.{index // 2}.blocks.{rest}." if index % 2 else f"stages.{index // 2}.downsample.{rest}."

    return re.sub(r"^features\.(\d+)\.(\d+)\.", to_stage, key)


LAYOUTS = (
    Layout("timm", detect=lambda keys: "stem.0.weight" in keys and any(".mlp.fc1." in k for k in keys),
           to_reslab=rename([(r"\.mlp\.(fc1|fc2|grn)\.", r".\1."), (r"\.gamma$", ".layer_scale.gamma"),
                             (r"^head\.norm\.", "head_norm."), (r"^head\.fc\.", "fc.")]),
           from_reslab=rename([(r"\.(fc1|fc2|grn)\.", r".mlp.\1."), (r"\.layer_scale\.gamma$", ".gamma"),
                               (r"^head_norm\.", "head.norm."), (r"^fc\.", "head.fc.")]),
           applies_to=lambda spec: not convnext_misfits(spec, "timm"),
           misfits=lambda spec: convnext_misfits(spec, "timm"),
           tensor_to_reslab=_convnext_tensor_in, tensor_from_reslab=_convnext_tensor_out("timm")),
    Layout("torchvision", detect=lambda keys: "features.0.0.weight" in keys and any(".block.0." in k for k in keys),
           to_reslab=chain(
               rename([(r"^features\.0\.", "stem."), (r"^classifier\.0\.", "head_norm."), (r"^classifier\.2\.", "fc."),
                       (r"\.block\.0\.", ".conv_dw."), (r"\.block\.2\.", ".norm."), (r"\.block\.3\.", ".fc1."),
                       (r"\.block\.5\.", ".fc2."), (r"\.layer_scale$", ".layer_scale.gamma")]),
               _renumber_tv_features),
           from_reslab=chain(
               renumber(r"^stages\.(\d+)\.blocks\.(\d+)\.", "features.{}.{}.", lambda s, b: (2 * s + 1, b)),
               renumber(r"^stages\.(\d+)\.downsample\.", "features.{}.", lambda stage: (2 * stage,)),
               rename([(r"^stem\.", "features.0."), (r"^head_norm\.", "classifier.0."), (r"^fc\.", "classifier.2."),
                       (r"\.conv_dw\.", ".block.0."), (r"\.norm\.", ".block.2."), (r"\.fc1\.", ".block.3."),
                       (r"\.fc2\.", ".block.5."), (r"\.layer_scale\.gamma$", ".layer_scale")])),
           applies_to=lambda spec: not convnext_misfits(spec, "torchvision"),
           misfits=lambda spec: convnext_misfits(spec, "torchvision"),
           tensor_to_reslab=_convnext_tensor_in, tensor_from_reslab=_convnext_tensor_out("torchvision")),
)

RULES = CheckpointRules(LAYOUTS, block_key=r"^stages\.(\d+)\.blocks\.(\d+)\.")
