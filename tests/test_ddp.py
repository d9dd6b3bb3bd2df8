"""Two processes (gloo, CPU) under torchrun train to the same weights as one process with the same global batch."""
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from reslab.train import from_recipe, train

# resnet8-style, 60 digits, global batch 16: 3 optimiser steps. --sync-bn: each process's BatchNorms normalise with
# the statistics of the whole batch (reslab's GlobalBatchNorm, on the CPU too), as one process does. Measured: the
# weights and running statistics then agree to 3.5e-6; without it (each process normalising its half by the half's
# statistics) they differ by up to 1.8e-2. The small lr keeps float32 rounding from growing: on these mostly-blank
# images one ReLU input within 3e-6 of zero flips sign between the runs, and at lr 0.1 three steps amplify that to
# 1.6e-3 (in float64, GlobalBatchNorm's gradients equal one process's to 1e-14: test_global_bn).
ARGS = dict(model="resnet20_cifar", spec={"depths": [1, 1, 1]}, subset=64, val_subset=20, epochs=1, batch_size=16,
            lr=0.001, lr_batch=16, sync_bn=True, progress=False, tensorboard=False, seed=3)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    single = train(from_recipe("cifar", output=str(tmp_path / "one"), **ARGS))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
           "-m", "reslab", "train", "--recipe", "cifar", "--model", "resnet20_cifar", "--depths", "1,1,1",
           "--subset", "64", "--val-subset", "20", "--epochs", "1", "--batch-size", "16", "--lr-batch", "16",
           "--lr", "0.001", "--sync-bn", "--no-progress", "--no-tensorboard", "--seed", "3",
           "--output", str(tmp_path / "two")]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("validation accuracy") == 1  # rank 0 alone reports
    one, two = load_file(single.run_dir / "last.safetensors"), load_file(tmp_path / "two" / "last.safetensors")
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-4, atol=5e-5, msg=lambda m, k=k: f"{k}: {m}")
    untrained = untrained_weights(tmp_path)
    assert any(not torch.equal(one[k], untrained[k]) for k in one)  # the runs did train: not two untouched models


def untrained_weights(tmp_path):
    from reslab.train.engine import build_model

    torch.manual_seed(ARGS["seed"])  # the engine seeds like this before building the model
    return build_model(from_recipe("cifar", output=str(tmp_path / "x"), **ARGS), 10).state_dict()


def test_train_destroys_the_process_group_it_created(tmp_path, monkeypatch):
    import torch.distributed as dist

    honest = dist.init_process_group

    def one_process_group(backend):  # what torchrun's rendezvous gives, for a world of one
        honest(backend, store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)

    monkeypatch.setenv("WORLD_SIZE", "2")  # as under torchrun: train() must create the group itself
    monkeypatch.setattr(dist, "init_process_group", one_process_group)
    train(from_recipe("cifar", output=str(tmp_path / "run"), **{**ARGS, "val_subset": 10}))
    assert not dist.is_initialized()
