"""Recipes are plain data with the papers' values; --epochs rescales them without changing their shape."""
import dataclasses

import pytest
import torch

from reslab.errors import ReslabError
from reslab.train import RECIPES, TrainConfig, from_recipe, get_recipe, rescale
from reslab.train.optim import Lamb, param_groups
from reslab.train.schedule import LrSchedule


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_cites_its_source_and_builds_a_config(name):
    recipe = get_recipe(name)
    assert recipe["source"] and any(ch.isdigit() for ch in recipe["source"])  # a year in the citation
    cfg = from_recipe(name)
    assert cfg.recipe == name and cfg.epochs == recipe["epochs"]


def test_recipe_values_follow_the_papers():
    r15, tricks, rs, cifar = (get_recipe(n) for n in ("resnet2015", "tricks2018", "resnet_rs", "cifar"))
    assert (r15["lr"], r15["lr_batch"], r15["momentum"], r15["weight_decay"], r15["milestones"], r15["epochs"]) == \
           (0.1, 256, 0.9, 1e-4, (30, 60), 90)
    assert (tricks["schedule"], tricks["warmup_epochs"], tricks["label_smoothing"], tricks["mixup"],
            tricks["no_decay_norm_bias"], tricks["zero_init_last"], tricks["epochs"]) == \
           ("cosine", 5, 0.1, 0.2, True, True, 120)
    assert [get_recipe(f"rsb_a{i}")["epochs"] for i in (1, 2, 3)] == [600, 300, 100]
    assert [get_recipe(f"rsb_a{i}")["img_size"] for i in (1, 2, 3)] == [224, 224, 160]
    assert all(get_recipe(f"rsb_a{i}")["optimizer"] == "lamb" and get_recipe(f"rsb_a{i}")["loss"] == "bce"
               and get_recipe(f"rsb_a{i}")["test_size"] == 224 for i in (1, 2, 3))
    assert (rs["weight_decay"], rs["label_smoothing"], rs["epochs"]) == (4e-5, 0.1, 350) and rs["ema_decay"] > 0
    # the paper's iterations: lr / 10 at 32k and 48k, stop at 64k
    assert (cifar["steps"], cifar["milestones"], cifar["crop"]) == (64000, (32000, 48000), "pad")


def test_rescaling_epochs_keeps_milestones_and_warmup_fractions():
    cifar = rescale(get_recipe("cifar"), epochs=20)
    assert cifar["milestones"] == (10, 15)
    tricks = rescale(get_recipe("tricks2018"), epochs=12)
    assert tricks["warmup_epochs"] == pytest.approx(0.5)


def test_rescaled_schedule_has_the_same_shape():
    full, short = from_recipe("tricks2018"), from_recipe("tricks2018", epochs=12)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    a, b = LrSchedule(opt, full, 1.0, 100), LrSchedule(opt, short, 1.0, 100)
    for frac in (0.01, 0.03, 0.2, 0.5, 0.9):
        assert a.lr_at(int(frac * a.total)) == pytest.approx(b.lr_at(int(frac * b.total)), abs=0.02)


def test_step_schedule_divides_by_ten_at_milestones():
    cfg = from_recipe("cifar", epochs=4)  # milestones 2, 3
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s = LrSchedule(opt, cfg, 0.1, 5)
    assert [s.lr_at(e * 5) for e in range(4)] == pytest.approx([0.1, 0.1, 0.01, 0.001])


def test_group_lr_scale_multiplies_the_scheduled_lr():
    p, q = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p], "lr_scale": 1.0}, {"params": [q], "lr_scale": 0.25}], lr=1.0)
    LrSchedule(opt, from_recipe("cifar"), 0.4, 10).set(0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.4, 0.1])


def test_unknown_recipe_and_setting_are_clear_errors():
    with pytest.raises(ReslabError, match="recipes: resnet2015"):
        get_recipe("resnet2016")
    with pytest.raises(ReslabError, match="unknown training settings: colour"):
        TrainConfig.from_dict({"colour": 1})


def test_config_round_trips_through_json(tmp_path):
    cfg = from_recipe("rsb_a3", epochs=3, spec={"depths": [1, 1, 1]})
    cfg.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path / "config.json") == dataclasses.replace(cfg)


def test_no_weight_decay_on_biases_and_norms():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    decayed, plain = param_groups(model, 1e-4, no_decay_norm_bias=True)
    assert [p.ndim for p in decayed["params"]] == [4] and plain["weight_decay"] == 0.0 and len(plain["params"]) == 3


def test_lamb_first_step_moves_each_tensor_by_lr_times_its_norm():
    # at step 1 Adam's update is sign(g) (up to eps); LAMB's trust ratio rescales it to ||w|| (You et al. 2020)
    w = torch.nn.Parameter(torch.randn(10, 10))
    before = w.detach().clone()
    opt = Lamb([w], lr=0.01)
    (w * torch.randn(10, 10)).sum().backward()
    opt.step()
    assert float((w.detach() - before).norm()) == pytest.approx(0.01 * float(before.norm()), rel=1e-3)


def test_a_short_run_keeps_the_lr_until_half_way():
    # round() rounds 2.5 to even (2): the default job's 5 epochs cut the lr after 2 epochs, 40 % of the run
    assert from_recipe("cifar", epochs=5).milestones == (3, 4)
    assert from_recipe("cifar", epochs=20).milestones == (10, 15)


def test_the_configs_own_defaults_are_a_valid_run():
    from reslab.selfsup.config import PretrainConfig

    assert (TrainConfig().epochs, TrainConfig().milestones) == (164, (82, 123))
    assert PretrainConfig().method == "simclr"
