"""RegNet as a generator of ResNet specs (Radosavovic et al. 2020, "Designing Network Design Spaces", Sec. 3.3).

Block widths follow a line u_j = w0 + wa * j, quantized in log space to powers of wm (Eq. 2-4); consecutive
blocks of equal width form a stage. Every RegNet block is a bottleneck with ratio b = 1, a grouped 3x3 of fixed
group width, and (RegNetY) squeeze-excitation after the 3x3.
"""
from __future__ import annotations

import math

from .base import SpecError
from .resnet import ResNetSpec
from .rounding import make_divisible

ROUNDING = ("pycls", "torchvision")


def block_widths(depth: int, w0: float, wa: float, wm: float, quant: int = 8) -> list[int]:
    """Per-block widths: the linear rule snapped to w0 * wm^k, then to a multiple of `quant` (Eq. 2-4)."""
    widths = []
    for j in range(depth):
        exponent = round(math.log((w0 + wa * j) / w0) / math.log(wm))
        widths.append(int(round(w0 * wm ** exponent / quant) * quant))
    return widths


def regnet_spec(depth: int, w0: float, wa: float, wm: float, group_width: int, se_ratio: float = 0.0,
                bottleneck_ratio: float = 1.0, stem_width: int = 32, quant: int = 8, rounding: str = "pycls",
                **fields) -> ResNetSpec:
    """The ResNet spec of one RegNet drawn from the design space; `fields` override any other spec field.

    `rounding` picks how stage widths are made divisible by the group width: "pycls" (the paper's code and
    timm: nearest multiple) or "torchvision" (torchvision's models: never more than 10% smaller).
    """
    if depth < 1 or w0 <= 0 or wa < 0 or wm <= 1 or group_width < 1 or quant < 1:
        raise SpecError(f"regnet_spec needs depth >= 1, w0 > 0, wa >= 0, wm > 1, group_width >= 1 "
                        f"(got depth={depth}, w0={w0}, wa={wa}, wm={wm}, group_width={group_width})")
    if rounding not in ROUNDING:
        raise SpecError(f"rounding={rounding!r} is not one of {list(ROUNDING)}")
    per_block = block_widths(depth, w0, wa, wm, quant)
    stage_widths, depths = [], []
    for w in per_block:
        if stage_widths and stage_widths[-1] == w:
            depths[-1] += 1
        else:
            stage_widths.append(w)
            depths.append(1)
    widths, group_widths = [], []
    for w in stage_widths:
        bottleneck = int(w * bottleneck_ratio)
        g = min(group_width, bottleneck)  # a group cannot be wider than the layer
        if rounding == "pycls":
            bottleneck = int(round(bottleneck / g) * g)
        else:
            bottleneck = make_divisible(bottleneck, g)
        widths.append(int(bottleneck / bottleneck_ratio))
        group_widths.append(g)
    base = dict(block="bottleneck", expansion=1, depths=tuple(depths), widths=tuple(widths),
                strides=(2,) * len(depths), base_width=int(64 * bottleneck_ratio), group_width=tuple(group_widths),
                stem="conv3", stem_channels=stem_width, stem_pool="none")
    if se_ratio:
        # RegNetY's SE sits after the 3x3, its width a fraction of the block input (Sec. 5, "SE")
        base.update(attention="se", attention_ratio=se_ratio, attention_divisor=1, attention_position="3x3",
                    attention_base="block_input")
    return ResNetSpec(**{**base, **fields})
