"""ConvNeXt (Liu et al. 2022) and ConvNeXt-V2 (Woo et al. 2023) as data, with timm's names, and the paper's walk
from ResNet-50 to ConvNeXt-T (its Fig. 2) as one preset per step: `convnext_roadmap_00_resnet50` ... each one
spec change from the step before (`reslab diff`), with the paper's top-1 and GFLOPs for that step."""
from ..registry import Preset, register
from ..spec import ConvNeXtSpec
from ..spec.preprocessing import Preprocessing

LIU2022 = "Liu et al., A ConvNet for the 2020s (arXiv:2201.03545)"
WOO2023 = "Woo et al., ConvNeXt V2: Co-designing and Scaling ConvNets with Masked Autoencoders (arXiv:2301.00808)"
BICUBIC = Preprocessing(interpolation="bicubic")  # both papers evaluate with bicubic resizing, crop 0.875

REGISTERED: list[str] = []  # the names this module adds, in order


def add(name, spec, family, paper, year, idea, **meta) -> None:
    register(Preset(name, spec, family, paper, year, idea, preprocessing=BICUBIC, **meta))
    REGISTERED.append(name)


# name -> (depths, dims); atto to nano are timm's small ConvNeXts (not in the 2022 paper), the V2 paper's sizes
SIZES = {
    "atto": ((2, 2, 6, 2), (40, 80, 160, 320)), "femto": ((2, 2, 6, 2), (48, 96, 192, 384)),
    "pico": ((2, 2, 6, 2), (64, 128, 256, 512)), "nano": ((2, 2, 8, 2), (80, 160, 320, 640)),
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)), "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)), "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048)),
}
# Liu et al. 2022, Table 1 (ImageNet-1K, 224): params (M), GFLOPs, top-1. XL was trained on ImageNet-22K only:
# its top-1 is the 22K-pre-trained model's at 224
V1_PAPER = {"tiny": (28, 4.5, 82.1), "small": (50, 8.7, 83.1), "base": (89, 15.4, 83.8), "large": (198, 34.4, 84.3),
            "xlarge": (350, 60.9, 87.0)}
# Woo et al. 2023, Table 8 (ImageNet-1K fine-tuned after FCMAE pre-training, 224): params (M), GFLOPs, top-1
V2_PAPER = {"atto": (3.7, 0.55, 76.7), "femto": (5.2, 0.78, 78.5), "pico": (9.1, 1.37, 80.3),
            "nano": (15.6, 2.45, 81.9), "tiny": (28.6, 4.47, 83.0), "base": (89, 15.4, 84.9),
            "large": (198, 34.4, 85.8)}
TORCHVISION = ("tiny", "small", "base", "large")

for size, (depths, dims) in SIZES.items():
    params, gflops, top1 = V1_PAPER.get(size, (None, None, None))
    add(f"convnext_{size}", ConvNeXtSpec(depths=depths, dims=dims, stem_channels=dims[0]), "ConvNeXt", LIU2022, 2022,
        "a ResNet modernised one step at a time: patchify stem, 7x7 depthwise conv, inverted bottleneck, LN, GELU",
        params_m_paper=params, gmacs_paper=gflops, top1_paper=top1, timm=f"convnext_{size}",
        torchvision=f"convnext_{size}" if size in TORCHVISION else None)
for size in ("atto", "femto", "pico", "nano", "tiny", "small", "base", "large"):
    depths, dims = SIZES[size]
    params, gflops, top1 = V2_PAPER.get(size, (None, None, None))
    # V2's block: GRN after the GELU, and no layer scale (GRN does its job, Sec. 3)
    add(f"convnextv2_{size}", ConvNeXtSpec(depths=depths, dims=dims, stem_channels=dims[0], grn=True, layer_scale=0.0),
        "ConvNeXt-V2", WOO2023, 2023, "global response normalisation in each block, for masked-autoencoder training",
        params_m_paper=params, gmacs_paper=gflops, top1_paper=top1, timm=f"convnextv2_{size}")

# --- the roadmap: Liu et al. 2022, Fig. 2 and Sec. 2, ResNet-50 (modern recipe) to ConvNeXt-T ----------------------
# Each step: (name, the change in one line, the spec fields it sets, Fig. 2's top-1 and GFLOPs). The kernel-size
# study (3, 5, 7, 9, 11) is one step, at the 7x7 the paper keeps.
RESNET50 = ConvNeXtSpec(
    depths=(3, 4, 6, 3), dims=(256, 512, 1024, 2048), stem="conv7", stem_channels=64, hidden_ratio=0.25,
    spatial_first=False, kernel_size=3, group_width=0, act="relu", block_acts="every", block_norms="every",
    norm="batch", conv_bias=False, downsample="in_block", head_norm=False, layer_scale=0.0)
ROADMAP = (
    ("resnet50", "ResNet-50 (torchvision's, stride on the 3x3) trained with the modern recipe", {}, 78.8, 4.1),
    ("stage_ratio", "blocks per stage 3:4:6:3 -> 3:3:9:3, Swin-T's 1:1:3:1 (Sec. 2.2)", {"depths": (3, 3, 9, 3)},
     79.4, 4.5),
    ("patchify", "stem: 7x7/2 conv + max pool -> 4x4/4 'patchify' conv (Sec. 2.2)", {"stem": "patchify"}, 79.5, 4.4),
    ("depthwise", "3x3 conv -> depthwise 3x3 conv, ResNeXt's grouping taken to one channel per group (Sec. 2.3)",
     {"group_width": 1}, 78.3, 2.4),
    ("width96", "width 64 -> 96 (Swin-T's), spent on the cheaper depthwise conv (Sec. 2.3)",
     {"dims": (384, 768, 1536, 3072), "stem_channels": 96}, 80.5, 5.3),
    ("inverted_bottleneck", "inverted bottleneck: 96 -> 384 -> 96 instead of 384 -> 96 -> 384 (Sec. 2.4)",
     {"dims": (96, 192, 384, 768), "hidden_ratio": 4.0}, 80.6, 4.6),
    ("dw_up", "depthwise conv moved to the top of the block, before the 1x1s (Sec. 2.5)", {"spatial_first": True},
     79.9, 4.1),
    ("kernel7", "depthwise kernel 3x3 -> 7x7 (Sec. 2.5)", {"kernel_size": 7}, 80.6, 4.2),
    ("gelu", "ReLU -> GELU (Sec. 2.6)", {"act": "gelu"}, 80.6, 4.2),
    ("fewer_activations", "one activation per block, between the two 1x1s (Sec. 2.6)", {"block_acts": "one"},
     81.3, 4.2),
    # without a norm after them the 1x1 convs need their biases (a BatchNorm's shift made them redundant)
    ("fewer_norms", "one norm per block, after the depthwise conv (Sec. 2.6)",
     {"block_norms": "one", "conv_bias": True}, 81.4, 4.2),
    ("layernorm", "BatchNorm -> LayerNorm (Sec. 2.6)", {"norm": "layer"}, 81.5, 4.2),
    # layer scale belongs to the paper's training recipe (Sec. 2.1), kept off until here so that step 00 is exactly
    # ResNet-50; the final LayerNorm after pooling is one of the norms 'wherever the resolution changes'
    ("downsampling", "separate 2x2/2 downsampling layers with a norm before each and after the pooling (Sec. 2.6)",
     {"downsample": "separate", "head_norm": True, "layer_scale": 1e-6}, 82.0, 4.5),
)

_spec = RESNET50
for _i, (_step, _change, _fields, _top1, _gflops) in enumerate(ROADMAP):
    _spec = _spec.replace(**_fields)
    add(f"convnext_roadmap_{_i:02d}_{_step}", _spec, "ConvNeXt roadmap", LIU2022, 2022, _change,
        top1_paper=_top1, gmacs_paper=_gflops)
