"""Option A's zero channels (He et al. 2015 Sec. 3.3/4.2) go after the identity channels ("end") or half before and
half after ("both", the layout of the widely used third-party CIFAR ResNet checkpoints); each loads only its own
weights. The reference network is written here from the paper's description, independently of the builder."""
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reslab
from reslab.spec import SpecError, from_dict


class RefBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus the option-A shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int, side: str):
        super().__init__()
        self.conv_a = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn_a = nn.BatchNorm2d(cout)
        self.conv_b = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn_b = nn.BatchNorm2d(cout)
        self.stride, self.extra, self.side = stride, cout - cin, side

    def shortcut(self, x):
        if self.stride == 1 and not self.extra:
            return x
        x = x[:, :, ::2, ::2]
        before = self.extra // 2 if self.side == "both" else 0
        return F.pad(x, (0, 0, 0, 0, before, self.extra - before))

    def forward(self, x):
        out = self.bn_b(self.conv_b(F.relu(self.bn_a(self.conv_a(x)))))
        return F.relu(out + self.shortcut(x))


class RefResNet20(nn.Module):
    """3x3 conv to 16 channels, 3 stages of 3 basic blocks (16/32/64), global average pool, linear."""

    def __init__(self, side: str, num_classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for b in range(3):
                blocks.append(RefBlock(cin, cout, stride if b == 0 else 1, side))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.linear(x.mean((2, 3)))


def _randomised(side: str) -> RefResNet20:
    torch.manual_seed(0)
    ref = RefResNet20(side)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics, so every channel's position matters
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return ref.eval()


def _to_reslab(state: dict) -> dict:
    """Reference names -> ResLab's (timm/torchvision layout)."""
    def rename(key: str) -> str:
        if key.startswith("blocks."):
            _, i, rest = key.split(".", 2)
            stage, block = divmod(int(i), 3)
            for a, b in (("conv_a", "conv1"), ("bn_a", "bn1"), ("conv_b", "conv2"), ("bn_b", "bn2")):
                rest = rest.replace(a, b)
            return f"layer{stage + 1}.{block}.{rest}"
        return {"conv": "conv1", "bn": "bn1", "linear": "fc"}[key.split(".")[0]] + "." + key.split(".", 1)[1]
    return {rename(k): v for k, v in state.items()}


@pytest.mark.parametrize("side", ["end", "both"])
def test_zeropad_side_matches_a_reference_cifar_resnet20(side):
    ref = _randomised(side)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = ref(x)
    state = _to_reslab(ref.state_dict())
    model = reslab.create_model("resnet20_cifar", zeropad_side=side).eval()
    assert model.spec.zeropad_side == side
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected)
    wrong = reslab.create_model("resnet20_cifar", zeropad_side="end" if side == "both" else "both").eval()
    wrong.load_state_dict(state, strict=True)
    with torch.no_grad():
        assert not torch.allclose(wrong(x), expected, atol=1e-3)


def test_both_puts_half_the_zero_channels_before_the_identity():
    from reslab.layers import ZeroPadShortcut
    x = torch.arange(1.0, 5.0).view(1, 4, 1, 1).expand(1, 4, 2, 2)
    both = ZeroPadShortcut(4, 9, 2, "both")(x)[0, :, 0, 0].tolist()
    end = ZeroPadShortcut(4, 9, 2, "end")(x)[0, :, 0, 0].tolist()
    assert both == [0, 0, 1, 2, 3, 4, 0, 0, 0]
    assert end == [1, 2, 3, 4, 0, 0, 0, 0, 0]


def test_zeropad_side_needs_the_zeropad_shortcut():
    with pytest.raises(SpecError, match="zeropad_side.*shortcut='zeropad'"):
        reslab.get_spec("resnet20_cifar").replace(shortcut="projection", zeropad_side="both")
    with pytest.raises(SpecError, match="zeropad_side"):
        reslab.get_spec("resnet20_cifar").replace(zeropad_side="middle")


def test_zeropad_side_round_trips_and_old_specs_default_to_end():
    spec = reslab.get_spec("resnet20_cifar").replace(zeropad_side="both")
    assert from_dict(json.loads(spec.to_json())) == spec
    old = {k: v for k, v in reslab.get_spec("resnet20_cifar").to_dict().items() if k != "zeropad_side"}
    assert from_dict(old).zeropad_side == "end"
    assert from_dict(old) == reslab.get_spec("resnet20_cifar")
