"""Design choices compose: every combination of stem x shortcut x block x 3x3 x attention x stride placement x
drop-path x pre-activation either builds (and trains one step) or is refused naming the conflicting fields.
Blocks may differ by stage (TResNet's basic-then-bottleneck), so a mixed body is one more block choice."""
import itertools
import random

import pytest
import torch

from reslab import ResNetSpec, SpecError, build

AXES = {
    "stem": ("conv7", "deep", "cifar", "space_to_depth"),
    "shortcut": ("projection", "avgpool", "zeropad"),
    "block": ("basic", "bottleneck", ("basic", "bottleneck")),
    "conv3x3": ("standard", "separable", "res2", "selective_kernel", "split_attention"),
    "attention": ("none", "se", "eca", "cbam"),
    "stride_on": ("1x1", "3x3", "pool_before_3x3", "pool_after_3x3"),
    "drop_path_rate": (0.0, 0.2),
    "preact": (False, True),
}
TINY = dict(depths=(1, 1), widths=(8, 16), strides=(1, 2), stem_width=8, stem_channels=8, num_classes=5,
            input_size=32)


EXPANSION = {"basic": 1, "bottleneck": 4, ("basic", "bottleneck"): (1, 4)}


def _spec(combo: dict) -> ResNetSpec:
    return ResNetSpec(**TINY, expansion=EXPANSION[combo["block"]], **combo)


def _all_combos():
    return [dict(zip(AXES, values)) for values in itertools.product(*AXES.values())]


def _outcome(combo):
    try:
        return _spec(combo), None
    except SpecError as e:
        return None, str(e)


def test_every_combination_is_valid_or_refused_naming_two_of_its_fields():
    valid = 0
    for combo in _all_combos():
        spec, error = _outcome(combo)
        if spec is not None:
            valid += 1
            continue
        named = [field for field in AXES if field in error]
        assert len(named) >= 2, f"{combo}: refusal {error!r} does not name the conflicting fields"
    assert valid > len(_all_combos()) // 2  # refusals are the exception, not the rule


def _valid_sample(n: int, seed: int = 0):
    valid = [c for c in _all_combos() if _outcome(c)[0] is not None]
    return random.Random(seed).sample(valid, n)


def _combo_id(combo: dict) -> str:
    return "-".join("+".join(v) if isinstance(v, tuple) else str(v) for v in combo.values())


@pytest.mark.parametrize("combo", _valid_sample(96), ids=_combo_id)
def test_valid_combination_builds_and_trains_one_step(combo):
    model = build(_spec(combo)).train()
    x = torch.randn(2, 3, 32, 32)
    logits = model(x)
    assert logits.shape == (2, 5)
    logits.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_deep_stem_avgpool_res2net_bottleneck_with_eca_builds():
    spec = ResNetSpec(**TINY, stem="deep", shortcut="avgpool", conv3x3="res2", attention="eca")
    assert build(spec)(torch.randn(2, 3, 32, 32)).shape == (2, 5)


def test_resnest_block_in_cifar_body_builds():
    spec = ResNetSpec(depths=(1, 1, 1), widths=(16, 32, 64), strides=(1, 2, 2), stem="cifar", stem_channels=16,
                      stem_pool="none", conv3x3="split_attention", stride_on="pool_after_3x3", num_classes=10,
                      input_size=32)
    assert build(spec)(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("fields, named", [
    ({"conv3x3": "res2", "block": "basic", "expansion": 1}, ("conv3x3", "block")),
    ({"radix": 4}, ("radix", "conv3x3")),
    ({"scale": 6, "conv3x3": "split_attention"}, ("scale", "conv3x3")),
    ({"downsample_pool": "blur"}, ("downsample_pool", "stride_on")),
    ({"conv3x3": "selective_kernel", "radix": 1}, ("selective_kernel", "radix")),
    ({"output_stride": 12}, ("output_stride",)),
])
def test_invalid_modern_combination_is_refused_naming_the_fields(fields, named):
    with pytest.raises(SpecError) as info:
        ResNetSpec(**{**TINY, **fields})
    assert all(name in str(info.value) for name in named)
