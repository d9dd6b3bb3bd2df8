"""The modern ResNets (2019-2021) as data: Res2Net, SKNet, ResNeSt, anti-aliased ResNets and ResNet-RS, each a
ResNet spec with the fields its paper changed. Paper numbers come from ../shared/reference/paper_table.csv."""
from ..registry import Preset, register
from ..spec import ResNetSpec
from ..spec.preprocessing import Preprocessing
from .classic import AVG_DOWN, BOTTLENECK, DEPTHS, imagenet

RES2NET = "Gao et al., Res2Net: A New Multi-scale Backbone Architecture (arXiv:1904.01169)"
SKNET = "Li et al., Selective Kernel Networks (arXiv:1903.06586)"
RESNEST = "Zhang et al., ResNeSt: Split-Attention Networks (arXiv:2004.08955)"
BLUR = "Zhang, Making Convolutional Networks Shift-Invariant Again (arXiv:1904.11486)"
RESNET_RS = "Bello et al., Revisiting ResNets: Improved Training and Scaling Strategies (arXiv:2103.07579)"

BICUBIC = dict(interpolation="bicubic")

REGISTERED: list[str] = []  # the names this module adds, in order


def add(name: str, spec: ResNetSpec, family: str, paper: str, year: int, idea: str, **meta) -> None:
    register(Preset(name, spec, family, paper, year, idea, timm=meta.pop("timm", name), **meta))
    REGISTERED.append(name)


# --- Res2Net: hierarchical splits inside the 3x3 ---------------------------------------------------------
_RES2NET = {"res2net50_26w_4s": (50, 26, 4, 1, {"params_m_paper": 25.7, "gmacs_paper": 4.2, "top1_paper": 77.99}),
            "res2net50_26w_6s": (50, 26, 6, 1, {}), "res2net50_26w_8s": (50, 26, 8, 1, {}),
            "res2net50_14w_8s": (50, 14, 8, 1, {}), "res2net50_48w_2s": (50, 48, 2, 1, {}),
            "res2net101_26w_4s": (101, 26, 4, 1, {}), "res2next50": (50, 4, 4, 8, {})}
for name, (d, w, s, g, meta) in _RES2NET.items():
    add(name, imagenet(d, conv3x3="res2", base_width=w, scale=s, groups=g), "Res2Net", RES2NET, 2019,
        "the 3x3 becomes a chain of channel splits, so one block sees several receptive fields", **meta)
add("res2net50d", imagenet(50, conv3x3="res2", base_width=26, **AVG_DOWN), "Res2Net", RES2NET, 2019,
    "Res2Net-50 with the ResNet-D stem and shortcut")

# --- SKNet: selective kernels -----------------------------------------------------------------------------
# timm's SK-ResNet-18/34 split the input across the two paths to stay near ResNet-18/34's size
_SK_BASIC = dict(conv3x3="selective_kernel", split_input=True, select_ratio=1 / 8, select_divisor=16)
for d in (18, 34):
    add(f"skresnet{d}", imagenet(d, **_SK_BASIC), "SKNet", SKNET, 2019,
        "each block picks, per channel, between a 3x3 and a dilated 3x3 path")
add("skresnext50_32x4d", imagenet(50, conv3x3="selective_kernel", groups=32, base_width=4, select_ratio=1 / 16,
                                  select_divisor=32),
    "SKNet", SKNET, 2019, "SKNet-50: selective kernels on ResNeXt-50 blocks", params_m_paper=27.5,
    gmacs_paper=4.47, top1_paper=79.21)

# --- ResNeSt: split attention, stride in an average pool (avd) --------------------------------------------
RESNEST_D = dict(conv3x3="split_attention", stride_on="pool_after_3x3", **AVG_DOWN)
_RESNEST = {"resnest14d": ((1, 1, 1, 1), 32, {}, 224, 0.875, "bilinear"),
            "resnest26d": ((2, 2, 2, 2), 32, {}, 224, 0.875, "bilinear"),
            "resnest50d": (DEPTHS[50], 32, {"top1_paper": 81.03}, 224, 0.875, "bilinear"),
            "resnest101e": (DEPTHS[101], 64, {"top1_paper": 82.83}, 256, 0.875, "bilinear"),
            "resnest200e": ((3, 24, 36, 3), 64, {"top1_paper": 83.84}, 320, 0.909, "bicubic"),
            "resnest269e": ((3, 30, 48, 8), 64, {}, 416, 0.928, "bicubic")}
for name, (depths, stem_width, meta, size, crop, interp) in _RESNEST.items():
    spec = BOTTLENECK.replace(depths=depths, stem_width=stem_width, stem_channels=2 * stem_width, input_size=size,
                    **RESNEST_D)
    add(name, spec, "ResNeSt", RESNEST, 2020,
        "split attention: a softmax over radix splits of each group, driven by their pooled sum",
        preprocessing=Preprocessing(input_size=size, crop_pct=crop, interpolation=interp), **meta)
for name, radix, groups, width in (("resnest50d_4s2x40d", 4, 2, 40), ("resnest50d_1s4x24d", 1, 4, 24)):
    add(name, imagenet(50, **{**RESNEST_D, "stride_on": "pool_before_3x3"}, radix=radix, groups=groups,
                       base_width=width),
        "ResNeSt", RESNEST, 2020, f"ResNeSt-50 with radix {radix} and {groups}x{width}d groups, pool before the 3x3",
        preprocessing=Preprocessing(**BICUBIC))

# --- anti-aliased downsampling ----------------------------------------------------------------------------
add("resnetblur50", imagenet(50, stride_on="pool_after_3x3", downsample_pool="blur", stem_pool="max_blur"),
    "Anti-aliased ResNet", BLUR, 2019, "blur before every subsampling so outputs shift with the input",
    preprocessing=Preprocessing(**BICUBIC))
add("resnetaa50d", imagenet(50, stride_on="pool_after_3x3", downsample_pool="avg2", stem_pool="avg2", **AVG_DOWN),
    "Anti-aliased ResNet", BLUR, 2019, "ResNet-D whose strided convolutions become 2x2 average pools",
    preprocessing=Preprocessing(crop_pct=0.95, **BICUBIC))

# --- ResNet-RS: ResNet-D + SE + a conv in place of the stem max pool, zero-init; scaled depth and resolution --
RS = dict(stem_pool="conv", attention="se", attention_ratio=0.25, zero_init_last=True, **AVG_DOWN)
# (depths, train resolution, test resolution, eval crop, paper top-1 at the train resolution) per timm's cfgs
_RESNET_RS = {50: (DEPTHS[50], 160, 224, 0.91, 78.8), 101: (DEPTHS[101], 192, 288, 0.94, 81.2),
              152: (DEPTHS[152], 256, 320, 1.0, 83.0), 200: (DEPTHS[200], 256, 320, 1.0, 83.4),
              270: ((4, 29, 53, 4), 256, 352, 1.0, None), 350: ((4, 36, 72, 4), 288, 384, 1.0, None),
              420: ((4, 44, 87, 4), 320, 416, 1.0, None)}
for d, (depths, train_size, test_size, crop, top1) in _RESNET_RS.items():
    add(f"resnetrs{d}", BOTTLENECK.replace(depths=depths, input_size=train_size, **RS), "ResNet-RS", RESNET_RS, 2021,
        f"modern training and scaling: ResNet-D + SE, trained at {train_size} px, evaluated at {test_size} px",
        top1_paper=top1, preprocessing=Preprocessing(input_size=test_size, crop_pct=crop, **BICUBIC))

# --- TResNet: a ResNet redesigned for GPU throughput ---------------------------------------------------------
TRESNET = "Ridnik et al., TResNet: High Performance GPU-Dedicated Architecture (arXiv:2003.13630)"
# space-to-depth stem, basic blocks in the two high-resolution stages and bottlenecks after, blur-pooled stride
# after the 3x3, SE in the first three stages (after the 3x3 in bottlenecks, at least 64 wide), leaky-ReLU
# branches added into a ReLU; images are fed in [0, 1] without normalisation
TRESNET_BODY = dict(stem="space_to_depth", stem_pool="none", shortcut="avgpool", stride_on="pool_after_3x3",
                    downsample_pool="blur", attention=("se", "se", "se", "none"), attention_position="3x3",
                    attention_base="block_output", attention_divisor=1, attention_min_channels=64,
                    act="leaky_relu_1e-3", stem_act="leaky_relu", residual_act="relu", zero_init_last=True)
TRESNET_INPUT = Preprocessing(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
_TRESNET = {"tresnet_m": ((3, 4, 11, 3), 1.0, {"gmacs_paper": 5.5, "top1_paper": 80.8}),
            "tresnet_l": ((4, 5, 18, 3), 1.2, {"top1_paper": 81.5}),
            "tresnet_xl": ((4, 5, 24, 3), 1.3, {"top1_paper": 82.0})}
for name, (depths, width_factor, meta) in _TRESNET.items():
    planes = int(64 * width_factor)
    spec = BOTTLENECK.replace(depths=depths, widths=(planes, 2 * planes, 4 * planes, 8 * planes), stem_channels=planes,
                              block=("basic", "basic", "bottleneck", "bottleneck"), expansion=(1, 1, 4, 4),
                              attention_ratio=(1 / 4, 1 / 4, 1 / 8, 1 / 8), **TRESNET_BODY)
    add(name, spec, "TResNet", TRESNET, 2020,
        "GPU-first design: space-to-depth stem, anti-aliased stride, SE early, basic then bottleneck blocks",
        preprocessing=TRESNET_INPUT, **meta)
add("tresnet_v2_l", BOTTLENECK.replace(depths=(3, 4, 23, 3), attention_ratio=1 / 8, **TRESNET_BODY), "TResNet",
    TRESNET, 2020, "TResNet v2: bottlenecks in every stage", preprocessing=TRESNET_INPUT)
