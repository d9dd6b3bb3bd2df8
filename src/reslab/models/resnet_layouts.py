"""The ResNet family's checkpoints: the timm, torchvision and transformers layouts its networks come in, and what
a state dict's keys show of the spec it was saved from (weights/fitting.py names the preset it fits)."""
from __future__ import annotations

import re

from .layout_rules import CheckpointRules, Layout, chain, rename, renumber, same_keys
from .resnet_transformers import TRANSFORMERS


def _plain(spec) -> bool:
    """Specs whose keys are ResLab's own in timm's and torchvision's plain ResNet layout."""
    return not spec.preact and spec.stem != "space_to_depth"


def _is_regnet(spec) -> bool:
    return spec.stem == "conv3" and bool(spec.group_width) and not spec.preact


def _has_conv1(keys) -> bool:
    return "conv1.weight" in keys or "conv1.0.weight" in keys


# stage and block prefixes, to and from ResLab's 'layer{stage}.{block}.'
_TIMM_REGNET_BLOCKS = (renumber(r"^s(\d+)\.b(\d+)\.", "layer{}.{}.", lambda stage, block: (stage, block - 1)),
                       renumber(r"^layer(\d+)\.(\d+)\.", "s{}.b{}.", lambda stage, block: (stage, block + 1)))
_TV_REGNET_BLOCKS = (renumber(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.", "layer{}.{}.", lambda s, b: (s, b)),
                     renumber(r"^layer(\d+)\.(\d+)\.", "trunk_output.block{0}.block{0}-{1}.", lambda s, b: (s, b)))
_V2_BLOCKS = (renumber(r"^stages\.(\d+)\.blocks\.(\d+)\.", "layer{}.{}.", lambda stage, block: (stage + 1, block)),
              renumber(r"^layer(\d+)\.(\d+)\.", "stages.{}.blocks.{}.", lambda stage, block: (stage - 1, block)))

_RES2 = [(r"\.conv2\.(convs|bns)\.", r".\1.")]  # Res2Net, ResLab -> timm
# RegNet key renames, timm -> ResLab and torchvision -> ResLab (the layouts below say how they differ)
_TIMM_REGNET = [(r"^stem\.conv\.", "conv1."), (r"^stem\.bn\.", "bn1."), (r"\.conv(\d)\.conv\.", r".conv\1."),
                (r"\.conv(\d)\.bn\.", r".bn\1."), (r"\.downsample\.conv\.", ".downsample.0."),
                (r"\.downsample\.bn\.", ".downsample.1."), (r"^head\.fc\.", "fc.")]
_TV_REGNET = [(r"^stem\.0\.", "conv1."), (r"^stem\.1\.", "bn1."), (r"\.proj\.", ".downsample."),
              (r"\.f\.a\.0\.", ".conv1."), (r"\.f\.a\.1\.", ".bn1."), (r"\.f\.b\.0\.", ".conv2."),
              (r"\.f\.b\.1\.", ".bn2."), (r"\.f\.c\.0\.", ".conv3."), (r"\.f\.c\.1\.", ".bn3."), (r"\.f\.se\.", ".se.")]

# The order matters: detect_layout takes the FIRST layout whose `detect` matches the checkpoint's keys, and
# find_layout (export) the first of the asked name whose `applies_to` accepts the spec. timm and torchvision share
# the plain ResNet layout, which is ResLab's own; its two entries at the end detect any checkpoint with a conv1 and
# apply to every plain spec, so the specific layouts (TResNet, RegNet, Res2Net, SKNet, ResNetV2, legacy SENet,
# transformers) must all come before them.
LAYOUTS = (
    # TResNet (timm): everything under body., the space-to-depth stem in body.conv1, ConvNormAct convolutions, and
    # a shortcut of (pool, ConvNormAct), without the pool in the unstrided first stage (ResLab keeps an Identity there)
    Layout("timm", detect=lambda keys: "body.conv1.conv.weight" in keys,
           to_reslab=rename([(r"^body\.conv1\.conv\.", "conv1.1."), (r"^body\.conv1\.bn\.", "bn1."), (r"^body\.", ""),
                             (r"\.downsample\.[01]\.conv\.", ".downsample.1."),
                             (r"\.downsample\.[01]\.bn\.", ".downsample.2."),
                             (r"\.conv(\d)\.conv\.", r".conv\1."), (r"\.conv(\d)\.bn\.", r".bn\1."),
                             (r"^head\.fc\.", "fc.")]),
           from_reslab=rename([(r"^conv1\.1\.", "body.conv1.conv."), (r"^bn1\.", "body.conv1.bn."),
                               (r"^layer1\.(\d+)\.downsample\.1\.", r"body.layer1.\1.downsample.0.conv."),
                               (r"^layer1\.(\d+)\.downsample\.2\.", r"body.layer1.\1.downsample.0.bn."),
                               (r"^layer", "body.layer"), (r"\.downsample\.1\.", ".downsample.1.conv."),
                               (r"\.downsample\.2\.", ".downsample.1.bn."),
                               (r"\.conv(\d)\.weight$", r".conv\1.conv.weight"),
                               (r"\.bn(\d)\.", r".conv\1.bn."), (r"^fc\.", "head.fc.")]),
           applies_to=lambda spec: spec.stem == "space_to_depth"),
    # RegNet: timm names stages s1.. and blocks b1.., with ConvNormAct convolutions; torchvision nests the stages
    # in trunk_output and names the bottleneck's convolutions f.a, f.b, f.c
    Layout("timm", detect=lambda keys: "stem.conv.weight" in keys and any(k.startswith("s1.b1.") for k in keys),
           to_reslab=chain(_TIMM_REGNET_BLOCKS[0], rename(_TIMM_REGNET)),
           from_reslab=chain(_TIMM_REGNET_BLOCKS[1],
                             rename([(r"^conv1\.", "stem.conv."), (r"^bn1\.", "stem.bn."),
                                     (r"\.conv(\d)\.weight$", r".conv\1.conv.weight"), (r"\.bn(\d)\.", r".conv\1.bn."),
                                     (r"\.downsample\.0\.", ".downsample.conv."),
                                     (r"\.downsample\.1\.", ".downsample.bn."), (r"^fc\.", "head.fc.")])),
           applies_to=_is_regnet),
    Layout("torchvision", detect=lambda keys: any(k.startswith("trunk_output.block1.") for k in keys),
           to_reslab=chain(_TV_REGNET_BLOCKS[0], rename(_TV_REGNET)),
           from_reslab=chain(_TV_REGNET_BLOCKS[1],
                             rename([(r"^conv1\.", "stem.0."), (r"^bn1\.", "stem.1."),
                                     (r"\.downsample\.", ".proj."), (r"\.conv1\.", ".f.a.0."),
                                     (r"\.bn1\.", ".f.a.1."), (r"\.conv2\.", ".f.b.0."), (r"\.bn2\.", ".f.b.1."),
                                     (r"\.conv3\.", ".f.c.0."), (r"\.bn3\.", ".f.c.1."), (r"\.se\.", ".f.se.")])),
           applies_to=_is_regnet),
    # Res2Net (timm): the multi-scale 3x3's convs/bns sit directly on the block, not under conv2
    Layout("timm", detect=lambda keys: any(".convs.0." in k for k in keys),
           to_reslab=rename([(r"\.(convs|bns)\.", r".conv2.\1.")]), from_reslab=rename(_RES2),
           applies_to=lambda spec: spec.conv3x3 == "res2"),
    # SKNet (timm): the plain convolutions are ConvNormAct modules (conv + bn under one name)
    Layout("timm", detect=lambda keys: any(".conv2.paths.0." in k for k in keys),
           to_reslab=rename([(r"\.conv(1|3)\.conv\.", r".conv\1."), (r"\.conv(1|3)\.bn\.", r".bn\1.")]),
           from_reslab=rename([(r"\.conv(1|3)\.weight$", r".conv\1.conv.weight"), (r"\.bn(1|3)\.", r".conv\1.bn.")]),
           applies_to=lambda spec: spec.conv3x3 == "selective_kernel" and spec.block == "bottleneck"),
    Layout("timm", detect=lambda keys: any(".conv1.paths.0." in k for k in keys),
           to_reslab=rename([(r"\.conv2\.conv\.", ".conv2."), (r"\.conv2\.bn\.", ".bn2.")]),
           from_reslab=rename([(r"\.conv2\.weight$", ".conv2.conv.weight"), (r"\.bn2\.", ".conv2.bn.")]),
           applies_to=lambda spec: spec.conv3x3 == "selective_kernel" and spec.block == "basic"),
    # timm's ResNetV2: pre-activation blocks in stages.i.blocks.j with norm1..3 before each conv
    Layout(
        "timm",
        detect=lambda keys: any(k.startswith("stages.0.blocks.") for k in keys) and "stem.conv.weight" in keys,
        to_reslab=chain(_V2_BLOCKS[0],
                        rename([(r"^stem\.conv\.", "conv1."), (r"\.downsample\.conv\.", ".downsample.0."),
                                (r"\.norm1\.", ".bn0."), (r"\.norm2\.", ".bn1."), (r"\.norm3\.", ".bn2."),
                                (r"^head\.fc\.", "fc.")])),
        from_reslab=chain(_V2_BLOCKS[1],
                          rename([(r"^conv1\.", "stem.conv."), (r"\.downsample\.0\.", ".downsample.conv."),
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
        to_reslab=rename([(r"^layer0\.", ""), (r"\.se_module\.", ".se."), (r"^last_linear\.", "fc.")]),
        from_reslab=rename([(r"^(conv1|bn1)\.", r"layer0.\1."), (r"\.se\.", ".se_module."),
                            (r"^fc\.", "last_linear.")]),
        applies_to=lambda spec: not spec.preact and spec.stem_pool == "max_ceil",
    ),
    TRANSFORMERS,  # Hugging Face transformers (resnet_transformers.py)
    # timm and torchvision: the plain ResNet layout, ResLab's own; they match any conv1, so they come last
    Layout("torchvision", detect=_has_conv1, to_reslab=same_keys, from_reslab=same_keys, applies_to=_plain),
    Layout("timm", detect=_has_conv1, to_reslab=same_keys, from_reslab=same_keys, applies_to=_plain),
)

# --- what a ResNet's keys show of its spec: (stem kind, pre-activation, attention, kind of 3x3) and its blocks ---
_BLOCK_KEY = re.compile(r"^layer\d+\.\d+\.")
_CONV3X3_MARKERS = (("res2", ".convs."), ("selective_kernel", ".paths."), ("split_attention", ".conv2.fc1."),
                    ("separable", ".depthwise."))


def _key_markers(keys) -> tuple:
    blocks = [m.string[m.end() - 1:] for m in map(_BLOCK_KEY.match, keys) if m]  # '.conv2.fc1.weight', ...
    stem = "deep" if "conv1.0.weight" in keys else "space_to_depth" if "conv1.1.weight" in keys else "one conv"
    conv3x3 = next((kind for kind, marker in _CONV3X3_MARKERS if any(marker in k for k in blocks)), "standard")
    return (stem, any(k.startswith(".bn0.") for k in blocks), any(k.startswith(".se.") for k in blocks), conv3x3)


def _spec_markers(spec) -> tuple:
    stem = spec.stem if spec.stem in ("deep", "space_to_depth") else "one conv"
    return (stem, spec.preact, set(spec.stage_values("attention")) != {"none"}, spec.conv3x3)


def could_fit(spec, state) -> bool:
    """A bottleneck has a third convolution, a basic block not; and the keys show the spec's markers."""
    return (all((f"layer{s + 1}.0.conv3.weight" in state) == (b == "bottleneck")
                for s, b in enumerate(spec.stage_values("block")))
            and _key_markers(state) == _spec_markers(spec))


RULES = CheckpointRules(LAYOUTS, block_key=r"^layer(\d+)\.(\d+)\.", could_fit=could_fit)
