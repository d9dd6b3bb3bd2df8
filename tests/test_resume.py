"""A run interrupted mid-epoch and resumed ends with the weights of the uninterrupted run."""
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from reslab.train import from_recipe, train
from reslab.train.checkpoint import load_state


def config(out, **kw):
    # resnet8-style on 160 digits, batch 16: 10 steps per epoch; mixup and the pad-crop draw random numbers,
    # so a resume that lost any RNG state would diverge
    values = dict(model="resnet20_cifar", spec={"depths": [1, 1, 1]}, subset=160, val_subset=50, epochs=2,
                  batch_size=16, lr_batch=16, mixup=0.2, ema_decay=0.9, output=str(out), progress=False,
                  tensorboard=False)
    if "steps" in kw:
        del values["epochs"]
    return from_recipe("cifar", **{**values, **kw})


def assert_same_weights(a, b):
    wa, wb = load_file(a / "last.safetensors"), load_file(b / "last.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6, msg=k)


def test_stop_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    whole = train(config(tmp_path / "whole"))
    stopped = train(config(tmp_path / "cut", stop_after_steps=13))  # inside the second epoch
    assert stopped.stopped == "stop_after_steps" and stopped.epochs_done == 1
    resumed = train(config(tmp_path / "elsewhere", resume=str(tmp_path / "cut")))
    assert resumed.stopped is None and resumed.epochs_done == 2
    assert_same_weights(whole.run_dir, tmp_path / "cut")
    assert resumed.metrics["val_top1"] == pytest.approx(whole.metrics["val_top1"])
    csv_rows = (tmp_path / "cut" / "metrics.csv").read_text().splitlines()
    assert len(csv_rows) == 3  # header + one row per epoch, none repeated by the resume


def test_resume_from_a_directory_without_state_is_a_clear_error(tmp_path):
    from reslab.errors import ReslabError

    (tmp_path / "config.json").write_text(config(tmp_path).to_json())
    with pytest.raises(ReslabError, match="no state.safetensors"):
        train(config(tmp_path, resume=str(tmp_path)))


def test_state_round_trips_every_rng_and_optimizer_value_exactly():
    import random

    import numpy as np

    from reslab.train import checkpoint

    np.random.seed(7)
    np.random.normal()  # leaves a cached Gaussian in the numpy state
    random.seed(7)
    random.gauss(0, 1)
    params = [torch.nn.Parameter(torch.randn(3)), torch.nn.Parameter(torch.randn(2, 2))]
    adamw = torch.optim.AdamW(params, lr=1e-3, betas=(0.8, 0.9))
    sum(p.sum() for p in params).backward()
    adamw.step()
    state = {"rng": checkpoint.rng_state(), "optimizer": adamw.state_dict(), "best": {"val_loss": float("nan")}}
    back = checkpoint._from_json(*_decoded(checkpoint.encode_state(state)))
    np_a, np_b = state["rng"]["numpy"], back["rng"]["numpy"]
    assert np_a[0] == np_b[0] and np.array_equal(np_a[1], np_b[1]) and np_a[2:] == np_b[2:]
    assert back["rng"]["python"] == state["rng"]["python"]
    assert torch.equal(back["rng"]["torch"], state["rng"]["torch"])
    assert back["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]  # betas stay a tuple
    for i, slots in state["optimizer"]["state"].items():
        assert all(torch.equal(v, back["optimizer"]["state"][i][k]) for k, v in slots.items())
    checkpoint.set_rng_state(back["rng"])
    assert (np.random.normal(), random.gauss(0, 1)) == (checkpoint.set_rng_state(state["rng"]) or
                                                        (np.random.normal(), random.gauss(0, 1)))


def _decoded(data: bytes):
    import json

    from safetensors.torch import load

    from reslab.train.checkpoint import FORMAT

    header_len = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8:8 + header_len])["__metadata__"]
    assert meta["format"] == FORMAT
    return json.loads(meta["state"]), load(data)


@pytest.mark.slow
def test_sigterm_saves_a_resumable_checkpoint_and_exits_128_plus_signal(tmp_path):
    args = [sys.executable, "-m", "reslab", "train", "--model", "resnet20_cifar", "--depths", "1,1,1", "--subset",
            "160", "--val-subset", "50", "--epochs", "3", "--batch-size", "16", "--lr-batch", "16", "--output",
            str(tmp_path / "cut"), "--no-tensorboard", "--no-progress", "--recipe", "cifar"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # wait until the first epoch is done, then interrupt during the second
        if line.startswith("epoch 1:"):
            break
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "received SIGTERM" in err and "Resume with: reslab train --resume" in out
    state = load_state(tmp_path / "cut")
    assert state["global_step"] > 10
    done = subprocess.run([sys.executable, "-m", "reslab", "train", "--resume", str(tmp_path / "cut"),
                           "--no-progress"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    whole = train(config(tmp_path / "whole", epochs=3, mixup=0.0, ema_decay=0.0))
    assert_same_weights(whole.run_dir, tmp_path / "cut")


def test_a_run_measured_in_steps_stops_there_and_drops_lr_at_step_milestones(tmp_path):
    # 10 steps per epoch: 25 steps are two whole epochs and half a third; lr / 10 after steps 12 and 20
    cfg = config(tmp_path / "steps", steps=25, milestones=(12, 20), mixup=0.0, ema_decay=0.0)
    assert cfg.steps == 25 and cfg.milestones == (12, 20)
    result = train(cfg)
    state = load_state(tmp_path / "steps")
    assert (result.epochs_done, state["global_step"], state["step_in_epoch"]) == (3, 25, 0)
    lrs = [float(row.split(",")[-1]) for row in (tmp_path / "steps" / "metrics.csv").read_text().splitlines()[1:]]
    header = (tmp_path / "steps" / "metrics.csv").read_text().splitlines()[0].split(",")
    # the lr of each epoch's last step (0-based 9, 19, 24)
    assert header[-1] == "lr" and lrs == pytest.approx([0.1, 0.01, 0.001])
    cut = train(config(tmp_path / "cut", steps=25, milestones=(12, 20), mixup=0.0, ema_decay=0.0,
                       stop_after_steps=22))
    assert cut.stopped == "stop_after_steps"
    resumed = train(config(tmp_path / "x", resume=str(tmp_path / "cut")))
    assert resumed.epochs_done == 3 and load_state(tmp_path / "cut")["global_step"] == 25
    assert_same_weights(tmp_path / "steps", tmp_path / "cut")
    again = train(config(tmp_path / "x", resume=str(tmp_path / "cut")))
    assert again.finished_before


def test_milestones_beyond_the_last_step_or_epoch_are_refused_naming_the_unit(tmp_path):
    from reslab.train.config import ConfigError

    with pytest.raises(ConfigError, match=r"--milestones 12,30: each must be a step between 1 and .*--steps 25"):
        config(tmp_path, steps=25, milestones=(12, 30))
    with pytest.raises(ConfigError, match=r"each must be an? epoch between 1 and .*--epochs 2"):
        config(tmp_path, milestones=(1, 3))
    with pytest.raises(ConfigError, match="both set the run's length"):
        from_recipe("cifar", epochs=3, steps=30)


def test_the_cifar_recipe_rescaled_to_epochs_keeps_the_papers_fractions():
    short = from_recipe("cifar", epochs=40)
    assert short.steps is None and short.milestones == (20, 30)
    paper = from_recipe("cifar")
    assert (paper.steps, paper.milestones) == (64000, (32000, 48000))
    assert from_recipe("cifar", steps=6400).milestones == (3200, 4800)


def test_a_run_saved_before_a_setting_existed_resumes_with_its_old_meaning_and_says_so(tmp_path, capsys):
    import json

    cut = train(config(tmp_path / "old", stop_after_steps=13))
    assert cut.stopped
    saved = json.loads((tmp_path / "old" / "config.json").read_text())
    for added in ("steps", "compile", "channels_last", "overwrite"):  # what an older ResLab never wrote
        saved.pop(added)
    (tmp_path / "old" / "config.json").write_text(json.dumps(saved))
    resumed = train(config(tmp_path / "x", resume=str(tmp_path / "old")))
    said = capsys.readouterr().out
    assert "written by an older ResLab" in said and "--steps None" in said and "--compile None" in said
    assert resumed.epochs_done == 2  # milestones and length still in epochs, as when it was saved
    assert_same_weights(train(config(tmp_path / "whole")).run_dir, tmp_path / "old")


def test_compile_and_channels_last_follow_the_runs_length_unless_given():
    from types import SimpleNamespace

    from reslab.train.engine import FAST_PATH_IMAGES, _fast_path

    env, cpu = SimpleNamespace(is_main=False), torch.device("cpu")
    short = from_recipe("cifar", epochs=6)
    assert _fast_path(short, 1438, 128, cpu, False, env).compile is False  # the default job: eager
    paper = from_recipe("cifar")  # 64,000 steps of 128 images
    fast = _fast_path(paper, 45000, 128, cpu, False, env)
    assert fast.compile and fast.channels_last and 64000 * 128 >= FAST_PATH_IMAGES
    assert _fast_path(paper, 45000, 128, cpu, True, env).compile is False  # audio stays eager
    chosen = from_recipe("cifar", compile=False)
    assert _fast_path(chosen, 45000, 128, cpu, False, env).compile is False  # --no-compile keeps the eager path
    assert _fast_path(from_recipe("cifar", epochs=6, compile=True), 1438, 128, cpu, False, env).channels_last
