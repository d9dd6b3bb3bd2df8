"""Plain networks (He et al. 2015, Sec. 4): the residual twins with the shortcuts removed, one spec field apart."""
import pytest
import torch
import torch.nn.functional as F

import reslab
from reslab.spec import SpecError, spec_diff
from oracles import param_count

TWINS = {f"plain{d}_cifar": (f"resnet{d}_cifar", {}) for d in (20, 32, 44, 56, 110)}
TWINS |= {f"plain{d}": (f"resnet{d}", {"shortcut": "zeropad"}) for d in (18, 34)}  # the paper's option-A twins


@pytest.mark.parametrize("plain", sorted(TWINS))
def test_a_plain_net_is_its_residual_twin_minus_the_shortcut(plain):
    twin, fields = TWINS[plain]
    assert [row[0] for row in spec_diff(reslab.get_spec(twin), reslab.get_spec(plain))] == ["residual"]
    assert param_count(reslab.get_spec(plain)) == param_count(reslab.get_spec(twin).replace(**fields))


def test_a_plain_block_outputs_its_branch_alone_and_the_residual_block_adds_the_input():
    torch.manual_seed(0)
    residual = reslab.create_model("resnet20_cifar").eval()
    plain = reslab.create_model("plain20_cifar").eval()
    plain.load_state_dict(residual.state_dict())  # same keys: the plain net has no shortcut parameters anyway
    x = torch.randn(2, 16, 32, 32)
    for net, expected in ((residual, lambda branch: F.relu(branch + x)), (plain, F.relu)):
        block = net.layer1[0]
        seen = {}
        block.bn2.register_forward_hook(lambda m, i, out: seen.update(branch=out.clone()))
        with torch.no_grad():
            out = block(x)
        torch.testing.assert_close(out, expected(seen["branch"]))
    # and where the shape changes, the plain block has no shortcut module at all
    assert plain.layer2[0].downsample is None and residual.layer2[0].downsample is not None


def test_plain_refuses_the_fields_that_would_silence_its_only_path():
    spec = reslab.get_spec("plain20_cifar")
    for field, value in (("drop_path_rate", 0.1), ("zero_init_last", True)):
        with pytest.raises(SpecError, match="needs residual=True"):
            spec.replace(**{field: value})
    assert reslab.spec.from_dict(spec.to_dict()) == spec  # the field round-trips through JSON
