"""Every classic preset that timm or torchvision also ships is exactly their model (oracles: timm 1.0.29,
torchvision): their random weights load through the public API, give the same logits, and export back."""
import pytest
import torch

import reslab
import reslab.info
from oracles import assert_same_logits, build_oracle, randomize_norm_stats



def _cases():
    from reslab.presets.classic import REGISTERED

    cases = []
    for name in REGISTERED:
        p = reslab.get_preset(name)
        big = reslab.info.cached_complexity(p.spec)[0] > 80e6
        for zoo, oracle in (("timm", p.timm), ("torchvision", p.torchvision)):
            if oracle:
                cases.append(pytest.param(name, zoo, oracle, id=f"{name}-{zoo}",
                                          marks=[pytest.mark.slow] if big else []))
    return cases


@pytest.mark.parametrize("name, zoo, oracle_name", _cases())
def test_oracle_weights_load_and_give_equal_logits(name, zoo, oracle_name, tmp_path):
    oracle = build_oracle(zoo, oracle_name)
    randomize_norm_stats(oracle)
    path = tmp_path / "oracle.pth"
    torch.save(oracle.state_dict(), path)

    model = reslab.create_model(name, weights=str(path)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = oracle(x)
        assert_same_logits(model(x), expected)

    # and back: our weights in the oracle's layout load strictly into a fresh oracle
    out = tmp_path / f"export_{zoo}.pth"
    reslab.save_weights(model, out, layout=zoo)
    fresh = build_oracle(zoo, oracle_name)
    fresh.load_state_dict(torch.load(out, weights_only=True), strict=True)
    with torch.no_grad():
        assert_same_logits(fresh.eval()(x), expected)
