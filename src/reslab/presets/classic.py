"""The classic ResNets (2015-2018) as data: every preset is a base spec plus the fields its paper changed."""
from ..registry import Preset, register
from ..spec import ResNetSpec
from ..spec.preprocessing import CIFAR_MEAN, CIFAR_STD, Preprocessing

HE2015 = "He et al., Deep Residual Learning for Image Recognition (arXiv:1512.03385)"
HE2016 = "He et al., Identity Mappings in Deep Residual Networks (arXiv:1603.05027)"
TRICKS = "He et al., Bag of Tricks for Image Classification with CNNs (arXiv:1812.01187)"
WRN = "Zagoruyko & Komodakis, Wide Residual Networks (arXiv:1605.07146)"
RESNEXT = "Xie et al., Aggregated Residual Transformations for Deep Neural Networks (arXiv:1611.05431)"
SENET = "Hu et al., Squeeze-and-Excitation Networks (arXiv:1709.01507)"
ECA = "Wang et al., ECA-Net: Efficient Channel Attention (arXiv:1910.03151)"
CBAM = "Woo et al., CBAM: Convolutional Block Attention Module (arXiv:1807.06521)"
XCEPTION = "Chollet, Xception: Deep Learning with Depthwise Separable Convolutions (arXiv:1610.02357)"

DEPTHS = {18: (2, 2, 2, 2), 26: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
          152: (3, 8, 36, 3), 200: (3, 24, 36, 3)}

BOTTLENECK = ResNetSpec()  # torchvision/timm ResNet-50 ("v1.5", i.e. ResNet-B)
BASIC = BOTTLENECK.replace(block="basic", expansion=1, depths=(2, 2, 2, 2))
DEEP_STEM = {"stem": "deep"}  # ResNet-C
AVG_DOWN = {"stem": "deep", "shortcut": "avgpool"}  # ResNet-D
CIFAR_BODY = dict(depths=(3, 3, 3), widths=(16, 32, 64), strides=(1, 2, 2), stem="cifar", stem_channels=16,
                  stem_pool="none", num_classes=10, input_size=32)
CIFAR_PRE = Preprocessing(input_size=32, crop_pct=1.0, mean=CIFAR_MEAN, std=CIFAR_STD)


def imagenet(depth: int, **fields) -> ResNetSpec:
    base = BASIC if depth in (18, 34) else BOTTLENECK
    return base.replace(depths=DEPTHS[depth], **fields)


REGISTERED: list[str] = []  # the names this module adds, in order


def add(name, spec, family, paper, year, idea="", **meta) -> None:
    register(Preset(name, spec, family, paper, year, idea, **meta))
    REGISTERED.append(name)


# --- He et al. 2015, and the Bag of Tricks letters -------------------------------------------------------
_PAPER_2015 = {18: (1.8, 72.12), 34: (3.6, 74.97), 50: (3.8, 77.1), 101: (7.6, 78.2), 152: (11.3, 78.6)}
for d, (gmacs, top1) in _PAPER_2015.items():
    add(f"resnet{d}", imagenet(d), "ResNet", HE2015, 2015, "identity shortcuts make very deep nets trainable",
        gmacs_paper=gmacs, top1_paper=top1, timm=f"resnet{d}", torchvision=f"resnet{d}")
add("resnet50a", imagenet(50, stride_on="1x1"), "ResNet", HE2015, 2015,
    "the paper's placement: stride on the first 1x1 of the bottleneck", gmacs_paper=3.8, top1_paper=77.1)
add("resnet50b", imagenet(50), "ResNet-B", TRICKS, 2018, "stride moved to the 3x3 so no activations are skipped",
    timm="resnet50")
for d in (50, 101, 152):
    add(f"resnet{d}c", imagenet(d, **DEEP_STEM), "ResNet-C", TRICKS, 2018,
        "three 3x3 convolutions replace the 7x7 stem", timm=f"resnet{d}c")
for d in (18, 26, 34, 50, 101, 152, 200):
    meta = {"params_m_paper": 25.0, "gmacs_paper": 4.3, "top1_paper": 77.16} if d == 50 else {}
    add(f"resnet{d}d", imagenet(d, **AVG_DOWN), "ResNet-D", TRICKS, 2018,
        "average pooling before the strided 1x1 shortcut", timm=f"resnet{d}d", **meta)

# --- CIFAR ResNets (He et al. 2015, Sec. 4.2): 6n+2 layers, option A shortcuts ----------------------------
_CIFAR = {20: (0.27, 91.25), 32: (0.46, 92.49), 44: (0.66, 92.83), 56: (0.85, 93.03), 110: (1.7, 93.57),
          1202: (19.4, 92.07)}
CIFAR_RESNET = BASIC.replace(shortcut="zeropad", **CIFAR_BODY)
for d, (params, top1) in _CIFAR.items():
    n = (d - 2) // 6
    add(f"resnet{d}_cifar", CIFAR_RESNET.replace(depths=(n, n, n)), "ResNet (CIFAR)", HE2015, 2015,
        "6n+2 layers, zero-padding shortcuts, 16/32/64 channels", params_m_paper=params, top1_paper=top1,
        preprocessing=CIFAR_PRE)

# --- Plain baselines (He et al. 2015, Sec. 4.1-4.2): the residual twins without their shortcuts -------------
PLAIN_IDEA = "the same layers without shortcuts: deeper plain nets train worse (the degradation problem)"
for d in (20, 32, 44, 56, 110):
    n = (d - 2) // 6
    add(f"plain{d}_cifar", CIFAR_RESNET.replace(depths=(n, n, n), residual=False), "Plain (CIFAR)", HE2015, 2015,
        PLAIN_IDEA, preprocessing=CIFAR_PRE)
for d, top1 in ((18, 72.06), (34, 71.46)):  # Table 2: 27.94 and 28.54 top-1 error (10-crop)
    add(f"plain{d}", imagenet(d, residual=False), "Plain", HE2015, 2015, PLAIN_IDEA,
        gmacs_paper=_PAPER_2015[d][0], top1_paper=top1)

# --- Pre-activation ResNets (He et al. 2016) -------------------------------------------------------------
add("preactresnet18", BASIC.replace(preact=True), "Pre-activation ResNet", HE2016, 2016,
    "BN and ReLU before each convolution keep the shortcut path a pure identity", timm="resnetv2_18")
add("preactresnet34", imagenet(34, preact=True), "Pre-activation ResNet", HE2016, 2016,
    "BN and ReLU before each convolution keep the shortcut path a pure identity", timm="resnetv2_34")
for d, params, top1 in ((164, 1.7, 94.54), (1001, 10.3, 95.08)):
    n = (d - 2) // 9
    add(f"preactresnet{d}_cifar", BOTTLENECK.replace(preact=True, **{**CIFAR_BODY, "depths": (n, n, n)}),
        "Pre-activation ResNet", HE2016, 2016, "pre-activation bottlenecks train at 1000 layers",
        params_m_paper=params, top1_paper=top1, preprocessing=CIFAR_PRE)

# --- Wide ResNets ----------------------------------------------------------------------------------------
for d, params, top1 in ((50, 68.9, 78.1), (101, None, None)):
    add(f"wide_resnet{d}_2", imagenet(d, base_width=128), "Wide ResNet", WRN, 2016,
        "fewer, wider layers: twice the bottleneck width", params_m_paper=params, top1_paper=top1,
        timm=f"wide_resnet{d}_2", torchvision=f"wide_resnet{d}_2")
for depth, k, params, top1 in ((28, 10, 36.5, 96.0), (40, 4, 8.9, 95.47)):
    n = (depth - 4) // 6
    add(f"wrn{depth}_{k}_cifar", BASIC.replace(preact=True, **{**CIFAR_BODY, "depths": (n, n, n),
                                                                "widths": (16 * k, 32 * k, 64 * k)}),
        "Wide ResNet", WRN, 2016, "widen pre-activation basic blocks by k instead of going deeper",
        params_m_paper=params, top1_paper=top1, preprocessing=CIFAR_PRE)

# --- ResNeXt ---------------------------------------------------------------------------------------------
_RESNEXT = {"resnext50_32x4d": (50, 32, 4, 25.0, 4.1, 77.8, True),
            "resnext101_32x4d": (101, 32, 4, 44.0, 7.8, 78.8, False),
            "resnext101_32x8d": (101, 32, 8, None, None, None, True),
            "resnext101_64x4d": (101, 64, 4, None, 15.6, 79.6, True)}
for name, (d, g, w, params, gmacs, top1, tv) in _RESNEXT.items():
    add(name, imagenet(d, groups=g, base_width=w), "ResNeXt", RESNEXT, 2017,
        "grouped 3x3 convolutions: cardinality as a new dimension", params_m_paper=params, gmacs_paper=gmacs,
        top1_paper=top1, timm=name, torchvision=name if tv else None)
add("resnext50d_32x4d", imagenet(50, groups=32, base_width=4, **AVG_DOWN), "ResNeXt", RESNEXT, 2017,
    "ResNeXt with the ResNet-D stem and shortcut", timm="resnext50d_32x4d")

# --- Attention: squeeze-excitation, ECA, CBAM ------------------------------------------------------------
for d in (18, 34, 50, 101, 152):
    add(f"seresnet{d}", imagenet(d, attention="se"), "SE-ResNet", SENET, 2018,
        "recalibrate channels with a gate computed from global context", timm=f"seresnet{d}")
for d in (50, 101):
    add(f"seresnext{d}_32x4d", imagenet(d, groups=32, base_width=4, attention="se"), "SE-ResNeXt", SENET, 2018,
        "squeeze-excitation on ResNeXt blocks", timm=f"seresnext{d}_32x4d")
# the SENet paper's own layout: Caffe stem pooling, stride on the 1x1 for SE-ResNet, unrounded reduction
_LEGACY = dict(attention="se", attention_divisor=1, stem_pool="max_ceil")
add("legacy_seresnet50", imagenet(50, stride_on="1x1", **_LEGACY), "SE-ResNet", SENET, 2018,
    "SE-ResNet-50 exactly as the SENet authors released it", timm="legacy_seresnet50")
add("legacy_seresnext50_32x4d", imagenet(50, groups=32, base_width=4, **_LEGACY), "SE-ResNeXt", SENET, 2018,
    "SE-ResNeXt-50 exactly as the SENet authors released it", timm="legacy_seresnext50_32x4d")
for d in (50, 101):
    add(f"ecaresnet{d}d", imagenet(d, attention="eca", **AVG_DOWN), "ECA-ResNet", ECA, 2020,
        "a 1D convolution across channels replaces the SE bottleneck MLP", timm=f"ecaresnet{d}d")
add("cbam_resnet50", imagenet(50, attention="cbam"), "CBAM-ResNet", CBAM, 2018,
    "a channel gate from average and max pooling, then a spatial gate", params_m_paper=28.09)

# --- Depthwise-separable 3x3 -----------------------------------------------------------------------------
add("sepresnet18", BASIC.replace(conv3x3="separable"), "Separable ResNet", XCEPTION, 2017,
    "depthwise-separable 3x3 convolutions cut parameters and multiply-adds")
