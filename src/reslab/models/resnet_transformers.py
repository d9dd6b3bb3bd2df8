"""Hugging Face transformers' ResNet (ResNetModel, ResNetForImageClassification; microsoft/resnet-18 ... -152): the
ResNet family's checkpoint layout for it, and what of a ResNet spec it can express."""
from __future__ import annotations

from .layout_rules import Layout, chain, rename, renumber

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


_TRANSFORMERS_TO = chain(
    rename([(r"^resnet\.", "")]),
    renumber(r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.", "layer{}.{}.", lambda stage, block: (stage + 1, block)),
    renumber(r"\.layer\.(\d+)\.convolution\.", ".conv{}.", lambda k: (k + 1,)),
    renumber(r"\.layer\.(\d+)\.normalization\.", ".bn{}.", lambda k: (k + 1,)),
    rename([(r"^embedder\.embedder\.convolution\.", "conv1."), (r"^embedder\.embedder\.normalization\.", "bn1."),
            (r"\.shortcut\.convolution\.", ".downsample.0."), (r"\.shortcut\.normalization\.", ".downsample.1."),
            (r"^classifier\.1\.", "fc.")]))
# ResLab -> transformers writes ResNetForImageClassification's keys (ResNetModel.from_pretrained drops the prefix)
_TRANSFORMERS_FROM = chain(
    renumber(r"^layer(\d+)\.(\d+)\.", "resnet.encoder.stages.{}.layers.{}.", lambda stage, block: (stage - 1, block)),
    renumber(r"\.conv(\d)\.", ".layer.{}.convolution.", lambda k: (k - 1,)),
    renumber(r"\.bn(\d)\.", ".layer.{}.normalization.", lambda k: (k - 1,)),
    rename([(r"^conv1\.", "resnet.embedder.embedder.convolution."),
            (r"^bn1\.", "resnet.embedder.embedder.normalization."),
            (r"\.downsample\.0\.", ".shortcut.convolution."), (r"\.downsample\.1\.", ".shortcut.normalization."),
            (r"^fc\.", "classifier.1.")]))
TRANSFORMERS_STEM_KEYS = ("embedder.embedder.convolution.weight", "resnet.embedder.embedder.convolution.weight")

TRANSFORMERS = Layout("transformers", detect=lambda keys: any(k in TRANSFORMERS_STEM_KEYS for k in keys),
                      to_reslab=_TRANSFORMERS_TO, from_reslab=_TRANSFORMERS_FROM,
                      applies_to=lambda spec: not transformers_misfits(spec), misfits=transformers_misfits)
