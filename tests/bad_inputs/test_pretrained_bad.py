"""Bad input around published weights: each gets one line on stderr and exit code 2, and no download leaves a
half-written file in the cache. Caches are in tmp_path and downloads come from a loopback server (see
tests/test_pretrained.py); nothing reaches the network."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bad_inputs.harness import assert_clean_error, assert_nothing_half_written, run_cli
from test_pretrained import _serve_entry, _torchvision_file, caches, server  # noqa: F401  (fixtures)


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("argv, words", [
    pytest.param(["eval", "--model", "resnet50.a9_in1k", "--pretrained"],
                 ["resnet50 has no weights tagged 'a9_in1k'", "did you mean", "resnet50.a"], id="unknown-tag"),
    pytest.param(["eval", "--model", "reslet50.a1_in1k", "--pretrained"],
                 ["unknown weights 'reslet50.a1_in1k'", "did you mean", "resnet50.a1_in1k"], id="unknown-preset-tag"),
    pytest.param(["eval", "--model", "resnet56_cifar", "--pretrained"],
                 ["resnet56_cifar has no published weights", "presets have", "reslab weights list"],
                 id="preset-without-weights"),
    pytest.param(["eval", "--model", "resnet18", "--pretrained", "--checkpoint", "x.safetensors"],
                 ["--checkpoint PATH or --model NAME --pretrained, not both"], id="pretrained-and-checkpoint"),
    pytest.param(["eval", "--pretrained"], ["--pretrained loads the weights --model names", "--model NAME"],
                 id="pretrained-without-model"),
    pytest.param(["eval"], ["give --checkpoint PATH", "--pretrained"], id="eval-no-weights-at-all"),
    pytest.param(["export", "--format", "onnx", "--output", "m.onnx"], ["give a CHECKPOINT", "--pretrained"],
                 id="export-no-weights-at-all"),
    pytest.param(["eval", "--model", "resnet18", "--pretrained", "--rename", "no-equals-sign"],
                 ["--rename 'no-equals-sign'", "PATTERN=REPLACEMENT"], id="rename-without-equals"),
    pytest.param(["eval", "--checkpoint", "x", "--rename", "(unclosed=fc."],
                 ["'(unclosed'", "not a regular expression"], id="rename-bad-regex"),
    pytest.param(["export", "x", "--format", "onnx", "--output", "m.onnx", "--rename", "=fc."],
                 ["PATTERN=REPLACEMENT"], id="export-rename-empty-pattern"),
    pytest.param(["train", "--rename", "^linear\\.=fc."], ["--rename renames the keys of the --weights"],
                 id="train-rename-without-weights"),
    pytest.param(["train", "--weights", "x.pth", "--rename", "oops"], ["--rename 'oops'", "PATTERN=REPLACEMENT"],
                 id="train-rename-malformed"),
    pytest.param(["weights", "download", "resnet50.a1_in1k", "resnet5O"], ["unknown model 'resnet5O'"],
                 id="download-unknown-name"),
    pytest.param(["weights", "info", "resnet18.tv2_in1k"], ["no weights tagged 'tv2_in1k'", "resnet18.tv_in1k"],
                 id="info-unknown-tag"),
    pytest.param(["weights", "list", "nothing"], ["no weights match 'nothing'", "'*nothing*'"],
                 id="list-matches-nothing"),
])
def test_bad_weight_options_get_one_line(argv, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(argv)
    assert_clean_error(result, 2, *words)
    assert_nothing_half_written(tmp_path)


def test_predict_rename_malformed_is_said_before_the_images_are_read(image):
    result = run_cli(["predict", image, "--checkpoint", "x", "--rename", "fc"])
    assert_clean_error(result, 2, "--rename 'fc'", "PATTERN=REPLACEMENT")


def test_offline_and_not_cached_is_one_line_naming_the_tag_the_cache_and_what_to_do(image, caches, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = run_cli(["predict", image, "--model", "resnet50.a1_in1k", "--pretrained"])
    assert_clean_error(result, 2, "resnet50.a1_in1k is not on this machine",
                       str(caches / "hf" / "models--timm--resnet50.a1_in1k"), "HF_HUB_OFFLINE=1",
                       "reslab weights download resnet50.a1_in1k", "weights=PATH")


def test_no_network_and_not_cached_is_one_line(image, caches):
    result = run_cli(["predict", image, "--model", "resnet50.a1_in1k", "--pretrained"])  # HF_ENDPOINT: a closed port
    assert_clean_error(result, 2, "resnet50.a1_in1k is not on this machine", "cannot be reached",
                       "connection refused", "reslab weights download resnet50.a1_in1k")


def test_a_download_with_the_wrong_hash_is_refused_removed_and_said_in_one_line(server, monkeypatch):
    data, _ = _torchvision_file()
    server.files["/resnet18-00000000.pth"] = (data, {})
    _serve_entry(monkeypatch, "resnet18.tv_in1k", url=f"{server.url}/resnet18-00000000.pth",
                 file_name="resnet18-00000000.pth", sha256_prefix="00000000")
    result = run_cli(["weights", "download", "resnet18.tv_in1k"])
    assert_clean_error(result, 2, "resnet18.tv_in1k", "not the published 00000000", "refused and removed")
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    assert not list(folder.iterdir())


def test_a_download_cut_mid_file_is_one_line_and_leaves_nothing_half_written(server, monkeypatch):
    data, name = _torchvision_file()
    server.files[f"/{name}"] = (data, {})
    server.cut.add(f"/{name}")
    _serve_entry(monkeypatch, "resnet18.tv_in1k", url=f"{server.url}/{name}", file_name=name,
                 sha256_prefix=name[-12:-4])
    result = run_cli(["weights", "download", "resnet18.tv_in1k"])
    assert_clean_error(result, 2, "resnet18.tv_in1k is not on this machine", "failed")
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    assert_nothing_half_written(folder)
    assert not folder.exists() or not list(folder.iterdir())


def test_a_missing_file_on_the_hub_is_one_line(server, monkeypatch, image):
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    result = run_cli(["predict", image, "--model", "resnet18.a1_in1k", "--pretrained"])
    assert_clean_error(result, 2, "resnet18.a1_in1k: ", "has no file model.safetensors in repo timm/resnet18.a1_in1k")
