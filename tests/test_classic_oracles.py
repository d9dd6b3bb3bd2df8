"""Every classic preset that timm or torchvision also ships is exactly their model (oracles: timm 1.0.29,
torchvision): their random weights load through the public API, give the same logits, and export back."""
import pytest

import reslab
from oracles import assert_round_trip, param_count


def _cases():
    from reslab.presets.classic import REGISTERED

    cases = []
    for name in REGISTERED:
        p = reslab.get_preset(name)
        big = param_count(p.spec) > 80e6
        for zoo, oracle in (("timm", p.timm), ("torchvision", p.torchvision)):
            if oracle:
                cases.append(pytest.param(name, zoo, oracle, id=f"{name}-{zoo}",
                                          marks=[pytest.mark.slow] if big else []))
    return cases


@pytest.mark.parametrize("name, zoo, oracle_name", _cases())
def test_oracle_weights_load_and_give_equal_logits(name, zoo, oracle_name, tmp_path):
    assert_round_trip(name, zoo, oracle_name, tmp_path)
