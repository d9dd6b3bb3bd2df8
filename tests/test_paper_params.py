"""Presets without an oracle match the parameter count their paper reports (within 2%):
the numbers are the papers' (see ../shared/reference/paper_table.csv)."""
import json

import pytest

import reslab
from reslab.complexity import cached_complexity
from reslab.presets.classic import REGISTERED

WITH_PAPER_COUNT = [n for n in REGISTERED if reslab.get_preset(n).params_m_paper and not
                    (reslab.get_preset(n).timm or reslab.get_preset(n).torchvision)]


def test_there_are_paper_only_presets_to_check():
    assert {"resnet20_cifar", "resnet1202_cifar", "preactresnet164_cifar", "wrn28_10_cifar",
            "cbam_resnet50"} <= set(WITH_PAPER_COUNT)


@pytest.mark.parametrize("name", WITH_PAPER_COUNT)
def test_parameter_count_matches_the_paper(name):
    preset = reslab.get_preset(name)
    params, _ = cached_complexity(preset.spec)
    assert params / 1e6 == pytest.approx(preset.params_m_paper, rel=0.02)


@pytest.mark.parametrize("name, gmacs", [("resnet50a", 3.86), ("resnet18", 1.81), ("resnet34", 3.66)])
def test_multiply_accumulates_match_the_measured_reference(name, gmacs):
    # paper_table.csv: the 2015 placement of the stride gives the paper's 3.8 GMACs for ResNet-50
    assert cached_complexity(reslab.get_spec(name))[1] / 1e9 == pytest.approx(gmacs, abs=0.01)


def test_a_cached_count_is_not_reused_once_the_builders_change(tmp_path, monkeypatch):
    """The disk cache of counts is keyed by the builders' code too: a count cached for an older network is
    recomputed, not shown for the new one."""
    from reslab import complexity

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    spec = reslab.get_spec("resnet20_cifar")
    truth = complexity.spec_complexity(spec)
    complexity.cached_complexity(spec)
    cache = complexity._cache_file()
    stale = {key: [1, 1] for key in json.loads(cache.read_text())}  # as if an old builder made them
    cache.write_text(json.dumps(stale))
    assert complexity.cached_complexity(spec) == (1, 1)  # same code: the cache is trusted
    monkeypatch.setattr(complexity, "_builders_digest", lambda: "changed builders")
    assert complexity.cached_complexity(spec) == truth
