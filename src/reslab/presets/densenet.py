"""The DenseNets of Huang et al. 2017 as data: ImageNet DenseNet-BC (k=32/48) and the CIFAR DenseNet-BC-100."""
from ..registry import Preset, register
from ..spec import DenseNetSpec
from ..spec.preprocessing import CIFAR_MEAN, CIFAR_STD, Preprocessing

HUANG2017 = "Huang et al., Densely Connected Convolutional Networks (arXiv:1608.06993)"

REGISTERED: list[str] = []  # the names this module adds, in order


def add(name, spec, family, idea="", **meta) -> None:
    register(Preset(name, spec, family, HUANG2017, 2017, idea, **meta))
    REGISTERED.append(name)


# depth -> (growth rate k, layers per block, ImageNet top-1 of the authors' Torch models, 224 single crop)
_IMAGENET = {121: (32, (6, 12, 24, 16), 75.0), 161: (48, (6, 12, 36, 24), 77.8),
             169: (32, (6, 12, 32, 32), 76.4), 201: (32, (6, 12, 48, 32), 77.5)}
for d, (k, blocks, top1) in _IMAGENET.items():
    # the ImageNet nets are DenseNet-BC with a 2k-channel 7x7 stem (Sec. 3, "Implementation Details", Table 1)
    add(f"densenet{d}", DenseNetSpec(growth_rate=k, block_config=blocks, stem_channels=2 * k), "DenseNet",
        "each layer takes every earlier feature map of its block, concatenated, and adds k new ones",
        top1_paper=top1, timm=f"densenet{d}", torchvision=f"densenet{d}")

# CIFAR DenseNet-BC (L=100, k=12): three blocks of (100 - 4) / 6 = 16 bottleneck layers, 2k-channel 3x3 stem
add("densenet_bc100_k12_cifar",
    DenseNetSpec(growth_rate=12, block_config=(16, 16, 16), stem="cifar", stem_channels=24, num_classes=10,
                 input_size=32),
    "DenseNet (CIFAR)", "bottleneck and compression make a 100-layer dense net of 0.8M parameters",
    params_m_paper=0.8, top1_paper=95.49,  # Table 2: C10+ error 4.51%
    preprocessing=Preprocessing(input_size=32, crop_pct=1.0, mean=CIFAR_MEAN, std=CIFAR_STD))
