"""Datasets: built-in digits, ImageFolder, CIFAR pickles, balanced subsets, bad files skipped, clear errors."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from reslab.data import (Augmented, ClassBalancedSubset, DataError, ShardedEpochSampler, collate_readable,
                         open_splits)
from reslab.data.mixing import BatchMixer
from reslab.data.transforms import eval_transform
from reslab.spec import Preprocessing


def make_folder(root, classes=("cat", "dog"), per_class=6, splits=("train", "val")):
    for split in splits:
        for c, name in enumerate(classes):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = np.full((36, 36, 3), 40 + 150 * c, np.uint8) + np.random.randint(0, 30, (36, 36, 3), np.uint8)
                Image.fromarray(pixels).save(d / f"{i}.jpg")
    return root


def test_digits_split_is_fixed_32px_rgb():
    a, b = open_splits(None), open_splits(None)
    assert (len(a["train"]), len(a["val"])) == (1438, 359)  # 1,797 scans, 20% held out
    assert a["train"].images.shape[1:] == (3, 32, 32) and a["train"].images.dtype == torch.uint8
    assert torch.equal(a["val"].labels, b["val"].labels) and a["train"].classes == [str(d) for d in range(10)]


def test_subset_takes_the_same_number_from_every_class():
    sub = ClassBalancedSubset(open_splits(None)["train"], 100, seed=3)
    assert np.bincount(sub.targets).tolist() == [10] * 10
    with pytest.raises(DataError, match="smaller than the number of classes"):
        ClassBalancedSubset(open_splits(None)["train"], 5)


def test_image_folder_splits_and_eval_transform(tmp_path):
    splits = open_splits(str(make_folder(tmp_path)))
    assert splits["train"].classes == ["cat", "dog"] and len(splits["val"]) == 12
    view = Augmented(splits["val"], eval_transform(Preprocessing(input_size=32, crop_pct=0.875), 32), seed=0)
    image, label, unreadable = view[(0, 7)]
    assert image.shape == (3, 32, 32) and label == 1 and unreadable is None


def test_truncated_image_is_reported_not_fatal(tmp_path):
    root = make_folder(tmp_path)
    bad = root / "train" / "dog" / "0.jpg"
    bad.write_bytes(bad.read_bytes()[:200])  # a cut-off JPEG
    view = Augmented(open_splits(str(root))["train"], eval_transform(Preprocessing(input_size=32), 32), seed=0)
    batch = collate_readable([view[(0, i)] for i in range(len(view))])
    assert batch.unreadable == [str(bad)] and len(batch.labels) == 11


@pytest.mark.parametrize("problem,message", [
    ("missing", "does not exist"), ("empty_class", "class directories without images: dog"),
    ("extra_val_class", "validation classes missing from the training set: bird"),
    ("no_val", "has no val split")])
def test_bad_datasets_fail_before_training(tmp_path, problem, message):
    root = make_folder(tmp_path)
    if problem == "missing":
        root = tmp_path / "nowhere"
    elif problem == "empty_class":
        for f in (root / "train" / "dog").iterdir():
            f.unlink()
    elif problem == "extra_val_class":
        make_folder(root, classes=("bird",), per_class=1, splits=("val",))
    elif problem == "no_val":
        for f in (root / "val").rglob("*.jpg"):
            f.unlink()
        for d in sorted((root / "val").iterdir()):
            d.rmdir()
        (root / "val").rmdir()
    with pytest.raises(DataError, match=message):
        open_splits(str(root))


def test_cli_reports_a_missing_dataset_as_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "reslab", "train", "--data", str(tmp_path / "nope")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("error: dataset path") and "Traceback" not in out.stderr


def test_cifar_pickle_directory(tmp_path):
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 1]}, f)
    with open(tmp_path / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"airplane", b"automobile", b"bird"]}, f)
    splits = open_splits(str(tmp_path))
    assert len(splits["train"]) == 20 and len(splits["val"]) == 4
    assert splits["train"].classes == ["airplane", "automobile", "bird"]
    assert splits["val"].images.shape == (4, 3, 32, 32)


def test_two_shards_together_see_the_single_process_order():
    single = [i for _, i in ShardedEpochSampler(20, seed=1)]
    shards = [[i for _, i in ShardedEpochSampler(20, seed=1, rank=r, world=2)] for r in (0, 1)]
    assert sorted(shards[0][:4] + shards[1][:4]) == sorted(single[:8])
    resumed = ShardedEpochSampler(20, seed=1)
    resumed.set_epoch(0, start=5)
    assert [i for _, i in resumed] == single[5:]


def test_repeated_augmentation_repeats_images_and_keeps_epoch_length():
    s = ShardedEpochSampler(12, seed=0, repeats=3)
    indices = [i for _, i in s]
    assert len(indices) == 12 and max(np.bincount(indices)) == 3


def test_mixup_targets_are_distributions_with_smoothing():
    torch.manual_seed(0)
    images, targets = BatchMixer(10, mixup=0.2, cutmix=1.0, label_smoothing=0.1)(torch.rand(4, 3, 8, 8),
                                                                                  torch.tensor([0, 1, 2, 3]))
    assert targets.shape == (4, 10) and torch.allclose(targets.sum(1), torch.ones(4))
    assert targets.min() >= 0.01 - 1e-6  # every class keeps at least epsilon / K
