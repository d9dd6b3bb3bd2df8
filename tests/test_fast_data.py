"""Small image folders decoded once into memory (cached on disk) and augmented a batch at a time: the same
pixels as the files, the same tensors as the per-image transforms, and a cache that is whole or absent."""
import errno
import os

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from reslab.data import decoded, open_splits
from reslab.data.image_folder import CheckedImageFolder
from reslab.data.sampler import ShardedEpochSampler
from reslab.data.tensor_batches import TensorBatches, sample_draws
from reslab.data.transforms import eval_transform
from reslab.spec import Preprocessing
from reslab.spec.preprocessing import CIFAR_MEAN, CIFAR_STD

from bad_inputs.harness import write_image_folder


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RESLAB_CACHE", str(tmp_path / "cache"))
    root = write_image_folder(tmp_path / "data", train=6, val=3, size=12)
    return root


def _cached_files(tmp_path):
    return sorted((tmp_path / "cache" / "decoded").glob("*")) if (tmp_path / "cache" / "decoded").exists() else []


def test_a_decoded_split_holds_the_files_pixels_and_labels_and_is_read_back_from_the_cache(folder, tmp_path,
                                                                                            monkeypatch):
    split = CheckedImageFolder(folder / "train")
    first = decoded.decoded_split(split, progress=False)
    for i, (path, label) in enumerate(split.samples):
        assert np.array_equal(first.images[i].permute(1, 2, 0).numpy(), np.asarray(Image.open(path).convert("RGB")))
        assert first.targets[i] == label and first.name(i) == path
    assert len(_cached_files(tmp_path)) == 1
    calls = []
    monkeypatch.setattr(decoded, "open_image", lambda p: calls.append(p) or Image.open(p).convert("RGB"))
    again = decoded.decoded_split(split, progress=False)
    assert torch.equal(again.images, first.images) and len(calls) == 1  # only the size probe: nothing decoded


def test_changing_a_file_builds_a_new_cache_and_a_damaged_cache_is_rebuilt(folder, tmp_path):
    split = CheckedImageFolder(folder / "train")
    decoded.decoded_split(split, progress=False)
    path = split.samples[0][0]
    Image.fromarray(np.full((12, 12, 3), 7, np.uint8)).save(path)
    os.utime(path, ns=(1, 10 ** 18))  # a new modification time, whatever the clock's resolution
    changed = decoded.decoded_split(CheckedImageFolder(folder / "train"), progress=False)
    assert (changed.images[0] == 7).all()
    newest = max(_cached_files(tmp_path), key=lambda p: p.stat().st_mtime_ns)
    newest.write_bytes(newest.read_bytes()[:100])  # truncated, as by a crash of something else
    rebuilt = decoded.decoded_split(CheckedImageFolder(folder / "train"), progress=False)
    assert torch.equal(rebuilt.images, changed.images)


def test_an_interrupted_cache_build_leaves_no_cache_file(folder, tmp_path, monkeypatch):
    def interrupted(tmp, data):
        with open(tmp, "wb") as f:
            f.write(data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(decoded, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        decoded.decoded_split(CheckedImageFolder(folder / "train"), progress=False)
    assert _cached_files(tmp_path) == []


def test_a_read_only_cache_is_said_once_and_the_run_keeps_the_images_in_memory(folder, monkeypatch):
    def read_only(path, write):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(decoded, "atomic_write", read_only)
    said = []
    split = decoded.decoded_split(CheckedImageFolder(folder / "train"), say=said.append, progress=False)
    assert split is not None and len(split) == 12 and len(said) == 1
    assert "cannot cache" in said[0] and "read-only" in said[0].lower()


def test_a_full_disk_is_said_once_and_leaves_no_half_cache(folder, tmp_path, monkeypatch):
    from bad_inputs.harness import fill_disk

    (tmp_path / "cache" / "decoded").mkdir(parents=True)
    fill_disk(monkeypatch, tmp_path / "cache" / "decoded", room=100)
    said = []
    split = decoded.decoded_split(CheckedImageFolder(folder / "train"), say=said.append, progress=False)
    assert split is not None and len(said) == 1 and "no space" in said[0].lower()
    assert _cached_files(tmp_path) == []


def test_images_of_different_sizes_or_an_unreadable_image_stream_from_the_files(folder):
    Image.fromarray(np.zeros((20, 12, 3), np.uint8)).save(folder / "train" / "dark" / "tall.png")
    assert decoded.decoded_split(CheckedImageFolder(folder / "train"), progress=False) is None
    (folder / "train" / "dark" / "tall.png").unlink()
    (folder / "train" / "dark" / "bad.png").write_bytes(b"not an image")
    assert decoded.decoded_split(CheckedImageFolder(folder / "train"), progress=False) is None
    assert isinstance(open_splits(str(folder))["train"], CheckedImageFolder)


def test_batch_augmentation_equals_padding_cropping_and_flipping_each_image_by_hand():
    images = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(10)
    sampler = ShardedEpochSampler(10, seed=3)
    sampler.set_epoch(2)
    batches = TensorBatches(images, labels, sampler, 4, mean=CIFAR_MEAN, std=CIFAR_STD, pad=4, hflip=True, seed=3,
                            drop_last=True)
    seen = 0
    for batch in batches:
        index = batch.labels  # label i is image i
        dy, dx, flip = sample_draws(3, 2, index, 3)
        for k, i in enumerate(index.tolist()):
            image = TF.crop(TF.pad(images[i], [4]), int(dy[k] % 9), int(dx[k] % 9), 8, 8)
            image = TF.horizontal_flip(image) if flip[k] % 2 else image
            expected = TF.normalize(TF.to_dtype(image, torch.float32, scale=True), CIFAR_MEAN, CIFAR_STD)
            assert torch.equal(batch.images[k], expected)
        seen += len(index)
    assert seen == 8 and len(batches) == 2  # drop_last: the last 2 images wait for the next epoch


def test_evaluation_batches_equal_the_evaluation_transform_of_each_file(folder, tmp_path):
    from reslab.data.tensor_batches import eval_batches

    split = open_splits(str(folder), ("val",))["val"]
    pre = Preprocessing(input_size=12, crop_pct=1.0, mean=CIFAR_MEAN, std=CIFAR_STD)
    sampler = ShardedEpochSampler(len(split), seed=0, shuffle=False)
    batch = next(iter(eval_batches(split, pre, 12, sampler, 100)))
    transform = eval_transform(pre, 12)
    expected = torch.stack([transform(Image.open(path).convert("RGB")) for path in split.names])
    assert torch.equal(batch.images, expected)
    assert eval_batches(split, Preprocessing(input_size=12, crop_pct=0.875), 12, sampler, 100) is None  # resizes


def test_an_images_draws_do_not_depend_on_its_batch_or_neighbours():
    index = torch.arange(1000)
    whole = sample_draws(0, 5, index, 3)
    part = sample_draws(0, 5, index[500:510], 3)
    assert all(torch.equal(w[500:510], p) for w, p in zip(whole, part))
    offsets = whole[0] % 9
    assert 0.08 < (offsets[1:] == offsets[:-1]).float().mean() < 0.15  # neighbours are not correlated (1/9)
    assert 0.08 < (offsets == sample_draws(0, 6, index, 1)[0] % 9).float().mean() < 0.15  # nor epochs


def test_every_reslab_cache_follows_reslab_cache(tmp_path, monkeypatch):
    from reslab.complexity import _cache_file
    from reslab.util.files import reslab_cache

    monkeypatch.setenv("RESLAB_CACHE", str(tmp_path / "mine"))
    assert reslab_cache() == tmp_path / "mine"
    assert _cache_file().parent == tmp_path / "mine"  # the cost cache too, not only the decoded images


def test_a_subset_decodes_only_its_images_and_validates_on_a_share_in_proportion(tmp_path, monkeypatch):
    from reslab.data import is_in_memory, subset

    monkeypatch.setenv("RESLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(subset, "MIN_VALIDATION", 4)  # 1,000 in real runs: this folder is smaller
    root = write_image_folder(tmp_path / "data", train=20, val=10, size=8)  # 40 training, 20 validation images
    decoded_files = []
    monkeypatch.setattr(decoded, "open_image", lambda p: decoded_files.append(p) or Image.open(p).convert("RGB"))
    said = []
    splits = open_splits(str(root), subset=10, say=said.append, progress=False)
    train, val = splits["train"], splits["val"]
    assert len(train) == 10 and is_in_memory(train) and train.targets.count(0) == 5
    assert len(val) == 4 and is_in_memory(val)  # 20 x 10/40 = 5, class-balanced: 2 of each class
    assert len(set(decoded_files)) == 14  # the chosen images alone, not all 60
    assert said == ["validating on 4 of the 20 validation images: a class-balanced subset in proportion to "
                    "--subset 10 (at least 4); --val-subset N to choose, --val-subset all for the whole split"]
    said.clear()
    whole = open_splits(str(root), subset=10, val_subset=0, say=said.append, progress=False)["val"]
    assert len(whole) == 20 and said == []
    assert len(open_splits(str(root), subset=10, val_subset=6, say=said.append, progress=False)["val"]) == 6
