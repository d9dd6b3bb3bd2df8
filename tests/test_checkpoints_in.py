"""Trained weights in, from any checkpoint a user already has: Lightning files, EMA weights, a key map of the
user's own, and RGB weights for a model with another number of input channels."""
import ast
import json
import re
import warnings

import pytest
import torch

import reslab
from reslab.weights import WeightsError

SMALL = dict(num_classes=5, widths=(8, 16, 32, 64))


@pytest.fixture(scope="module")
def rgb(tmp_path_factory):
    """A 3-channel resnet18 (small widths) and its plain state-dict checkpoint."""
    torch.manual_seed(0)
    model = reslab.create_model("resnet18", **SMALL).eval()
    path = tmp_path_factory.mktemp("rgb") / "rgb.pth"
    torch.save(model.state_dict(), path)
    return model, path


def _fresh(**kw):
    return reslab.create_model("resnet18", **SMALL, **kw).eval()


def _perturbed(model):
    """The same state with every float tensor changed: stands for the EMA weights beside the plain ones."""
    return {k: v + 0.01 if v.is_floating_point() else v for k, v in model.state_dict().items()}


def test_lightning_checkpoint_with_hyperparameters_loads(rgb, tmp_path):
    model, _ = rgb
    path = tmp_path / "epoch=3-step=120.ckpt"
    torch.save({"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.4.0",
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "hyper_parameters": {"lr": 0.1, "arch": "resnet18", "widths": [8, 16, 32, 64],
                                     "sched": {"name": "cosine", "warmup": 5}},
                "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}],
                "lr_schedulers": [], "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.9)}},
                "loops": {"fit_loop": {"epoch_progress": {"current": {"completed": 3}}}}}, path)
    fresh = _fresh()
    reslab.load_weights(fresh, path)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(fresh(x), model(x))


def test_net_prefix_is_stripped_like_module(rgb):
    model, _ = rgb
    fresh = _fresh()
    reslab.load_weights(fresh, {"state_dict": {f"net.{k}": v for k, v in model.state_dict().items()}})
    assert torch.equal(fresh.fc.weight, model.fc.weight)


@pytest.mark.parametrize("ema_key", ["state_dict_ema", "model_ema"])
def test_ema_weights_are_taken_only_when_asked(rgb, tmp_path, ema_key):
    model, _ = rgb
    plain_key = "state_dict" if ema_key == "state_dict_ema" else "model"
    averaged = _perturbed(model)
    path = tmp_path / "train.pth.tar"
    torch.save({"epoch": 10, plain_key: model.state_dict(),
                ema_key: {f"module.{k}": v for k, v in averaged.items()}}, path)
    plain = _fresh()
    reslab.load_weights(plain, path)
    assert torch.equal(plain.fc.weight, model.fc.weight)
    with_ema = _fresh()
    reslab.load_weights(with_ema, path, ema=True)
    assert torch.equal(with_ema.fc.weight, averaged["fc.weight"])
    created = reslab.create_model("resnet18", **SMALL, weights=path, ema=True)
    assert torch.equal(created.conv1.weight, averaged["conv1.weight"])


def test_ema_without_ema_weights_is_one_line_naming_the_keys(rgb, tmp_path):
    model, plain_path = rgb
    path = tmp_path / "train.pth"
    torch.save({"epoch": 10, "state_dict": model.state_dict(), "optimizer": {"lr": 0.1}}, path)
    with pytest.raises(WeightsError) as info:
        reslab.load_weights(_fresh(), path, ema=True)
    message = str(info.value)
    assert "\n" not in message and "no EMA weights" in message and str(path) in message
    assert all(f"'{k}'" in message for k in ("epoch", "state_dict", "optimizer"))
    with pytest.raises(WeightsError, match=r"no EMA weights.*plain state dict of \d+ tensors \('conv1\.weight'"):
        reslab.create_model("resnet18", **SMALL, weights=plain_path, ema=True)


def test_only_ema_weights_without_ema_says_to_pass_it(rgb):
    model, _ = rgb
    with pytest.raises(WeightsError, match="only EMA weights.*ema=True"):
        reslab.load_weights(_fresh(), {"model_ema": model.state_dict(), "epoch": 1})


def test_rename_map_is_applied_in_order_before_layout_detection(rgb, tmp_path):
    model, _ = rgb
    path = tmp_path / "mine.pth"
    # a user's own names: 'encoder.' around everything, the classifier called 'linear'
    torch.save({f"encoder.{k}".replace("encoder.fc.", "encoder.linear."): v
                for k, v in model.state_dict().items()}, path)
    fresh = _fresh()
    reslab.load_weights(fresh, path, rename={r"^encoder\.": "", r"^linear\.": "fc."})
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(fresh(x), model(x))
    created = reslab.create_model("resnet18", **SMALL, weights=path, rename={r"^encoder\.": "", "^linear": "fc"}).eval()
    assert torch.equal(created(x), model(x))


def test_rename_map_mistakes_are_named():
    state = _fresh().state_dict()
    with pytest.raises(WeightsError, match="not a regular expression"):
        reslab.load_weights(_fresh(), state, rename={"(": "x"})
    with pytest.raises(WeightsError, match="two keys .* to 'fc.weight'"):
        reslab.load_weights(_fresh(), state, rename={r"^fc\.bias$": "fc.weight"})
    with pytest.raises(WeightsError, match="rename must map"):
        reslab.load_weights(_fresh(), state, rename=[("a", "b")])
    with pytest.raises(WeightsError, match="pass weights="):
        reslab.create_model("resnet18", rename={"a": "b"})


def test_rename_hint_is_what_rename_takes(rgb):
    model, _ = rgb
    state = {k.replace("fc.", "linear.", 1): v for k, v in model.state_dict().items()}
    with pytest.raises(WeightsError) as info:
        reslab.load_weights(_fresh(), state)
    message = str(info.value)
    assert "unexpected keys start with 'linear.', missing keys start with 'fc.': " in message
    assert "try rename={'^linear\\\\.': 'fc.'}" in message
    hinted = ast.literal_eval(message.split("try rename=")[1].split("; on the command line")[0])  # pasted back
    assert message.endswith("on the command line --rename '^linear\\.=fc.')")
    fresh = _fresh()
    reslab.load_weights(fresh, state, rename=hinted)
    assert torch.equal(fresh.fc.weight, model.fc.weight)


def test_rename_hint_for_an_extra_prefix(rgb):
    model, _ = rgb
    state = {f"backbone.{k}": v for k, v in model.state_dict().items()}
    with pytest.raises(WeightsError, match=r"under 'backbone\.'.*try rename=\{'\^backbone\\\\\.': ''\}"):
        reslab.load_weights(_fresh(), state)


def _load_quietly(**kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = reslab.create_model(**kw).eval()
    return model, [str(w.message) for w in caught]


@pytest.mark.parametrize("in_chans", [1, 6])
def test_rgb_weights_adapt_to_other_input_channels_resnet(rgb, in_chans):
    model, path = rgb
    adapted, said = _load_quietly(name="resnet18", **SMALL, in_chans=in_chans, weights=path)
    assert any("conv1.weight" in m and f"in_chans={in_chans}" in m for m in said), said
    x = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(adapted(x.repeat(1, in_chans, 1, 1)), model(x.repeat(1, 3, 1, 1)),
                               rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def dense_rgb(tmp_path_factory):
    torch.manual_seed(0)
    model = reslab.create_model("densenet121", num_classes=3).eval()
    path = tmp_path_factory.mktemp("dense") / "dense.pth"
    torch.save(model.state_dict(), path)
    return model, path


@pytest.mark.parametrize("in_chans", [1, 6])
def test_rgb_weights_adapt_to_other_input_channels_densenet(dense_rgb, in_chans):
    """Every family: the protocol's first_conv names the convolution to adapt (features.conv0 here)."""
    model, path = dense_rgb
    adapted, said = _load_quietly(name="densenet121", num_classes=3, in_chans=in_chans, weights=path)
    assert any("features.conv0.weight" in m for m in said), said
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(adapted(x.repeat(1, in_chans, 1, 1)), model(x.repeat(1, 3, 1, 1)),
                                   rtol=1e-4, atol=1e-5)


def test_stem_that_does_not_see_the_image_is_not_adapted(rgb):
    """A mismatch elsewhere (or in a first conv behind space-to-depth) stays the normal error."""
    model, _ = rgb
    state = dict(model.state_dict())
    state["layer1.0.conv1.weight"] = state["layer1.0.conv1.weight"][:, :3]
    with pytest.raises(WeightsError, match="wrongly shaped keys layer1.0.conv1.weight"):
        reslab.load_weights(_fresh(), state)


def test_train_renames_the_keys_of_its_starting_checkpoint(tmp_path, tiny_folder):
    from bad_inputs.harness import TINY_MODEL, TINY_TRAIN, run_cli

    spec = dict(depths=(1, 1, 1), widths=(4, 8, 16), stem_channels=4)
    state = reslab.create_model("resnet20_cifar", **spec).state_dict()
    foreign = {re.sub(r"^fc\.", "linear.", k): v for k, v in state.items()}
    torch.save({"state_dict": foreign}, tmp_path / "third_party.th")
    argv = ["train", *TINY_MODEL, *TINY_TRAIN, "--data", str(tiny_folder),
            "--weights", str(tmp_path / "third_party.th")]
    refused = run_cli(argv + ["--output", str(tmp_path / "a")])
    assert refused.code == 2 and "--rename '^linear\\.=fc.'" in refused.message
    done = run_cli(argv + ["--rename", "^linear\\.=fc.", "--output", str(tmp_path / "b")])
    assert done.code == 0, done.err
    assert json.loads((tmp_path / "b" / "config.json").read_text())["weights_rename"] == {"^linear\\.": "fc."}
