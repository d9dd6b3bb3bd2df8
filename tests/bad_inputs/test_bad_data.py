"""Datasets on bad input: crafted CIFAR pickles refused, symlink loops and stray files caught, every image mode
decoded to the right 8-bit pixels, unreadable images skipped and named, bad layouts one clear line."""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import TINY_MODEL, TINY_TRAIN, assert_clean_error, assert_nothing_half_written, run_cli


def _copy(tiny_folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_folder, tmp_path / "data"))


def _write_cifar10(root: Path, protocol: int = pickle.DEFAULT_PROTOCOL, meta=None) -> Path:
    """The CIFAR-10 release layout: pickled dicts of byte-string keys, uint8 (N, 3072) data, list labels."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(root / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 1],
                         b"filenames": [b"a.png"] * 4}, f, protocol=protocol)
    with open(root / "batches.meta", "wb") as f:
        pickle.dump(meta or {b"label_names": [b"airplane", b"automobile", b"bird"], b"num_vis": 3072}, f,
                    protocol=protocol)
    return root


class _MakesAFile:
    """Unpickling this calls os.system: what a crafted batches.meta would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL])
def test_a_real_format_cifar_directory_still_loads(tmp_path, protocol):
    from reslab.data import open_splits

    splits = open_splits(str(_write_cifar10(tmp_path / "c10", protocol)))
    assert len(splits["train"]) == 20 and len(splits["val"]) == 4
    assert splits["train"].classes == ["airplane", "automobile", "bird"]
    assert splits["val"].images.shape == (4, 3, 32, 32) and splits["val"].labels.tolist() == [0, 1, 2, 1]


def test_cifar100_layout_loads(tmp_path):
    from reslab.data import open_splits

    rng = np.random.default_rng(0)
    for name in ("train", "test"):
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 255, (3, 3072), dtype=np.uint8), b"fine_labels": [0, 1, 1],
                         b"coarse_labels": [0, 0, 0]}, f, protocol=2)
    with open(tmp_path / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [b"apple", b"bee"], b"coarse_label_names": [b"x"]}, f, protocol=2)
    assert open_splits(str(tmp_path))["train"].classes == ["apple", "bee"]


def test_a_crafted_cifar_meta_cannot_run_code(tmp_path):
    marker = tmp_path / "pwned"
    root = _write_cifar10(tmp_path / "c10", meta={b"label_names": [_MakesAFile(marker)]})
    result = run_cli(["train", "--data", root, *TINY_MODEL, *TINY_TRAIN, "--output", tmp_path / "run"])
    assert_clean_error(result, 2, "batches.meta", "system", "refusing")
    assert not marker.exists()


def test_a_stray_meta_file_in_an_image_folder_root_keeps_it_an_image_folder(tiny_folder, tmp_path):
    from reslab.data import open_splits

    root = _copy(tiny_folder, tmp_path)
    (root / "meta").write_text("notes about this dataset")
    splits = open_splits(str(root))
    assert splits["train"].classes == ["dark", "light"] and len(splits["train"]) == 16


def test_a_symlink_loop_does_not_multiply_the_dataset(tiny_folder, tmp_path):
    from reslab.data import DataError, open_splits

    root = _copy(tiny_folder, tmp_path)
    (root / "train" / "dark" / "again").symlink_to(root / "train" / "dark")
    with pytest.raises(DataError, match="same folder"):
        open_splits(str(root))


def test_a_16_bit_gradient_decodes_to_a_full_8_bit_gradient(tmp_path):
    from reslab.data.images import open_image

    gradient = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (8, 1))
    Image.fromarray(gradient).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    pixels = np.asarray(open_image(tmp_path / "g16.png"))[..., 0].astype(int)
    assert pixels.min() == 0 and pixels.max() == 255 and (pixels == 255).mean() < 0.01
    assert np.abs(pixels[0] - np.arange(256)).max() <= 1  # the gradient, level for level


def test_a_float_image_in_0_1_decodes_to_0_255(tmp_path):
    from reslab.data.images import to_rgb

    pixels = np.asarray(to_rgb(Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))))
    assert pixels.min() == 0 and pixels.max() == 255 and len(np.unique(pixels)) == 64


def _mode_image(mode: str, path: Path, size) -> None:
    rgb = Image.fromarray(np.full((size[1], size[0], 3), 120, np.uint8))
    converted = {"P": lambda: rgb.convert("P", palette=Image.ADAPTIVE), "I;16": lambda: Image.fromarray(
        np.full((size[1], size[0]), 120 * 257, np.uint16))}.get(mode, lambda: rgb.convert(mode))()
    converted.save(path)


def test_images_of_every_mode_and_size_decode_to_the_same_grey_and_batch_together(tmp_path):
    from reslab.data import Augmented, collate_readable, open_splits
    from reslab.data.transforms import eval_transform
    from reslab.spec import Preprocessing

    kinds = [("RGB", "png", (16, 16)), ("RGBA", "png", (20, 12)), ("P", "png", (12, 30)), ("L", "png", (16, 9)),
             ("LA", "png", (17, 17)), ("CMYK", "jpg", (24, 16)), ("I;16", "png", (16, 40))]
    for split in ("train", "val"):
        for cls in ("a", "b"):
            folder = tmp_path / split / cls
            folder.mkdir(parents=True)
            for i, (mode, ext, size) in enumerate(kinds):
                _mode_image(mode, folder / f"{i}.{ext}", size)
    val = open_splits(str(tmp_path))["val"]
    for i in range(len(kinds)):
        image, _ = val.load(i)
        assert image.mode == "RGB" and abs(np.asarray(image).mean() - 120) <= 2, kinds[i]
    view = Augmented(val, eval_transform(Preprocessing(input_size=16, crop_pct=1.0), 16), seed=0)
    batch = collate_readable([view[(0, i)] for i in range(len(val))])
    assert batch.images.shape == (2 * len(kinds), 3, 16, 16) and batch.unreadable == []


def _corrupt(kind: str, path: Path, monkeypatch) -> None:
    if kind == "zero-byte":
        path.write_bytes(b"")
    elif kind == "truncated-jpeg":
        Image.open(path).convert("RGB").resize((64, 64)).save(path.with_suffix(".jpg"))
        path.unlink()
        cut = path.with_suffix(".jpg")
        cut.write_bytes(cut.read_bytes()[:300])
    elif kind == "text-as-png":
        path.write_text("not an image")
    elif kind == "decompression-bomb":
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # 16 x 16 = 256 fits; 32 x 32 is over twice that
        Image.new("RGB", (32, 32)).save(path)


@pytest.mark.parametrize("kind", ["zero-byte", "truncated-jpeg", "text-as-png", "decompression-bomb"])
def test_an_unreadable_image_is_skipped_and_named(tiny_folder, tmp_path, monkeypatch, kind):
    from reslab.data import Augmented, collate_readable, open_splits
    from reslab.data.transforms import eval_transform
    from reslab.spec import Preprocessing

    root = _copy(tiny_folder, tmp_path)
    _corrupt(kind, root / "val" / "dark" / "0.png", monkeypatch)
    val = open_splits(str(root))["val"]
    view = Augmented(val, eval_transform(Preprocessing(input_size=16, crop_pct=1.0), 16), seed=0)
    batch = collate_readable([view[(0, i)] for i in range(len(val))])
    assert len(batch.unreadable) == 1 and "dark/0." in batch.unreadable[0] and len(batch.labels) == 7


def test_a_batch_of_only_unreadable_images_is_an_empty_batch_naming_them(tiny_folder, tmp_path):
    from reslab.data import Augmented, collate_readable, open_splits
    from reslab.data.transforms import eval_transform
    from reslab.spec import Preprocessing

    root = _copy(tiny_folder, tmp_path)
    for name in ("0.png", "1.png"):
        (root / "val" / "dark" / name).write_bytes(b"")
    val = open_splits(str(root))["val"]
    view = Augmented(val, eval_transform(Preprocessing(input_size=16, crop_pct=1.0), 16), seed=0)
    batch = collate_readable([view[(0, 0)], view[(0, 1)]])
    assert len(batch.labels) == 0 and len(batch.images) == 0
    assert [Path(p).name for p in batch.unreadable] == ["0.png", "1.png"]


def test_unreadable_validation_images_are_counted_once(tiny_folder, tmp_path):
    from reslab.data import Augmented, ShardedEpochSampler, UnreadableImages, make_loader, open_splits
    from reslab.data.transforms import eval_transform
    from reslab.spec import Preprocessing

    root = _copy(tiny_folder, tmp_path)
    (root / "val" / "light" / "2.png").write_bytes(b"")
    val = open_splits(str(root))["val"]
    loader = make_loader(Augmented(val, eval_transform(Preprocessing(input_size=16, crop_pct=1.0), 16), 0), 3,
                         ShardedEpochSampler(len(val), seed=0, shuffle=False), 0, drop_last=False)
    seen = UnreadableImages()
    with pytest.warns(UserWarning, match="2.png"):
        for _ in range(2):  # two epochs: still one image
            for batch in loader:
                seen.note(batch)
    assert len(seen) == 1 and seen.paths == {str(root / "val" / "light" / "2.png")}


def _break(kind: str, root: Path) -> Path:
    """Damage a copy of the tiny dataset in one way; returns the --data path."""
    if kind == "path-is-a-file":
        (root / "data.zip").write_bytes(b"PK")
        return root / "data.zip"
    if kind == "empty-class":
        for f in (root / "train" / "light").iterdir():
            f.unlink()
    elif kind == "one-class":
        for split in ("train", "val"):
            shutil.rmtree(root / split / "light")
    elif kind == "val-lacks-a-class":
        shutil.rmtree(root / "val" / "light")
    elif kind == "val-extra-class":
        shutil.copytree(root / "val" / "light", root / "val" / "medium")
    elif kind == "no-val-split":
        shutil.rmtree(root / "val")
    elif kind == "no-class-folders":
        for f in list((root / "train").rglob("*.png")):
            f.rename(root / "train" / f"{f.parent.name}{f.name}")
        for d in ("dark", "light"):
            (root / "train" / d).rmdir()
    elif kind == "symlink-loop":
        (root / "train" / "dark" / "sub").mkdir()
        (root / "train" / "dark" / "sub" / "up").symlink_to(root / "train")
    elif kind == "same-file-linked-twice":
        (root / "train" / "light" / "copy.png").symlink_to(root / "train" / "dark" / "0.png")
    elif kind.startswith("cifar"):
        shutil.rmtree(root)
        _write_cifar10(root)
        with open(root / "data_batch_3", "wb") as f:
            pickle.dump({"cifar-not-a-dict": [1, 2], "cifar-missing-data": {b"labels": [0]},
                         "cifar-wrong-shape": {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
                         "cifar-label-out-of-range": {b"data": np.zeros((1, 3072), np.uint8), b"labels": [7]},
                         "cifar-open-call": {b"data": Image.new("RGB", (1, 1)), b"labels": []}}[kind], f)
    return root


@pytest.mark.parametrize("kind,words", [
    pytest.param("path-is-a-file", ["data.zip", "is a file"], id="path-is-a-file"),
    pytest.param("empty-class", ["without images", "light"], id="empty-class-folder"),
    pytest.param("one-class", ["1 class", "at least two"], id="one-class-only"),
    pytest.param("val-lacks-a-class", ["missing from the validation set", "light"], id="val-lacks-a-class"),
    pytest.param("val-extra-class", ["missing from the training set", "medium"], id="val-extra-class"),
    pytest.param("no-val-split", ["no val split"], id="no-val-split"),
    pytest.param("no-class-folders", ["no class directories"], id="images-without-class-folders"),
    pytest.param("symlink-loop", ["same folder", "symlink loop"], id="symlink-loop"),
    pytest.param("same-file-linked-twice", ["same file", "copy.png"], id="same-file-linked-twice"),
    pytest.param("cifar-not-a-dict", ["data_batch_3", "not a dict"], id="cifar-batch-not-a-dict"),
    pytest.param("cifar-missing-data", ["data_batch_3", "no 'data' entry"], id="cifar-batch-without-data"),
    pytest.param("cifar-wrong-shape", ["data_batch_3", "expected uint8"], id="cifar-batch-wrong-shape"),
    pytest.param("cifar-label-out-of-range", ["data_batch_3", "labels run from 7"], id="cifar-label-out-of-range"),
    pytest.param("cifar-open-call", ["data_batch_3", "refusing"], id="cifar-batch-with-foreign-object"),
])
def test_bad_dataset_is_one_clear_line_before_training(tiny_folder, tmp_path, kind, words):
    data = _break(kind, _copy(tiny_folder, tmp_path))
    result = run_cli(["train", "--data", data, *TINY_MODEL, *TINY_TRAIN, "--output", tmp_path / "run"], kind=kind)
    assert_clean_error(result, 2, *words)
    assert not (tmp_path / "run").exists()
    assert_nothing_half_written(tmp_path)
