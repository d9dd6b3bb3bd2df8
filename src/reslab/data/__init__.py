"""Training and evaluation data: the built-in digits, ImageFolder roots and CIFAR pickle directories."""
from __future__ import annotations

from pathlib import Path

from .errors import DataError
from .loader import (Augmented, Batch, ShardedEpochSampler, UnreadableImages, collate_readable, default_workers,
                     make_loader)
from .subset import ClassBalancedSubset, take_subsets

DEFAULT_DATASET = "digits"


def open_splits(data: str | None, splits: tuple[str, ...] = ("train", "val"), *, decode: bool = True,
                say=print, progress: bool = True, subset: int | None = None, val_subset: int | None = None,
                seed: int = 0) -> dict:
    """The named splits of `data` (None: the built-in digits). Problems are DataErrors raised here, before
    any training starts. `subset`, `val_subset`: class-balanced subsets of "train" (drawn with `seed`) and "val"
    (see subset.take_subsets). With `decode`, an image-folder split small enough (only its subset's images) is
    decoded once into memory (and cached on disk for the next run, see data.decoded)."""
    decodable = False
    if data is None or data == DEFAULT_DATASET:
        from .digits import load_digits_split

        found = load_digits_split()
    else:
        root = Path(data)
        if not root.exists():
            raise DataError(f"dataset path {root} does not exist")
        if not root.is_dir():
            raise DataError(f"dataset path {root} is a file: give a folder with train/ and val/ class folders, "
                            "or a CIFAR-10/100 pickle directory")
        from .cifar_pickle import is_cifar_pickle_dir, load_cifar_pickle

        if is_cifar_pickle_dir(root):
            found = load_cifar_pickle(root)
        else:
            from .image_folder import CheckedImageFolder

            missing = [s for s in splits if not (root / s).is_dir()]
            if missing:
                raise DataError(f"{root} has no {', '.join(missing)} split: expected {root}/<split>/<class>/<image> "
                                f"or a CIFAR-10/100 pickle directory")
            from .audio import audio_splits

            found = audio_splits(root, splits, say)  # a folder of clips is an audio task: no flag needed
            if found is None:
                found = {s: CheckedImageFolder(root / s) for s in splits}
            decodable = decode and not is_audio(found[splits[0]])
    unknown = [s for s in splits if s not in found]
    if unknown:
        raise DataError(f"{data or DEFAULT_DATASET} has no split {', '.join(unknown)}; it has {', '.join(found)}")
    if "train" in splits and len(found["train"].classes) < 2:
        raise DataError(f"{data or DEFAULT_DATASET}: the training set has {len(found['train'].classes)} class(es) "
                        f"({', '.join(found['train'].classes)}); a classifier needs at least two")
    if "train" in splits and "val" in splits:
        extra = sorted(set(found["val"].classes) - set(found["train"].classes))
        if extra:
            raise DataError(f"validation classes missing from the training set: {', '.join(extra)}")
        absent = sorted(set(found["train"].classes) - set(found["val"].classes))
        if absent:  # labels are positions in the class list: a missing class would shift every later one
            raise DataError(f"training classes missing from the validation set: {', '.join(absent)}; give each "
                            "at least one validation image")
        if found["val"].classes != found["train"].classes:
            raise DataError("validation and training class lists differ in order or number; "
                            f"train has {found['train'].classes}, val has {found['val'].classes}")
    found = take_subsets({s: found[s] for s in splits}, subset, val_subset, seed, say)
    if decodable:  # after the subsets: a subset's images alone are decoded
        from .decoded import decoded_split

        found = {s: decoded_split(folder, say=say, progress=progress) or folder for s, folder in found.items()}
    return found


def is_in_memory(dataset) -> bool:
    from .in_memory import TensorImages

    return isinstance(getattr(dataset, "base", dataset), TensorImages) or is_audio(dataset)  # clips are read once


def is_audio(dataset) -> bool:
    return getattr(getattr(dataset, "base", dataset), "is_audio", False)


__all__ = ["Augmented", "Batch", "ClassBalancedSubset", "DataError", "ShardedEpochSampler", "collate_readable",
           "default_workers", "is_audio", "is_in_memory", "make_loader", "open_splits", "UnreadableImages",
           "DEFAULT_DATASET"]
