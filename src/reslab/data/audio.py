"""Audio folders (ROOT/<split>/<class>/<clip>.wav), read once into memory: a dataset of clips is small (FSDD's
2,700 clips are 9 MB as float32). What reading had to change is said once per split, not once per file:
channels mixed to mono, sample formats, rates other than the rest, empty and silent clips skipped, clips far longer than
the rest (cropped by the features to their clip length). A folder that mixes images and audio is refused."""
from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

from torch.utils.data import Dataset

from ..spec.preprocessing import audio_preprocessing
from .audio_io import AUDIO_SUFFIXES, NO_SOUND, Clip, converted_line, read_clip
from .errors import DataError
from .images import IMAGE_SUFFIXES, check_every_class_found, find_images

LONG_CLIP = 4.0  # a clip this many times the median length is "far longer than the rest", and said so


class AudioFolder(Dataset):
    """`classes` (sorted sub-folder names), `samples` [(path, label)], `targets`, and each clip in memory."""

    is_audio = True

    def __init__(self, root: Path, say=print):
        self.root = root = Path(root)
        self.classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not self.classes:
            raise DataError(f"{root} holds no class directories: expected {root}/<class>/<clip>.wav")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples, self.clips, empty = [], [], {"empty": [], "silent": []}
        for path in find_images(root, AUDIO_SUFFIXES):
            parts = path.relative_to(root).parts
            if len(parts) < 2:
                continue
            clip = read_clip(path)  # a file that is not audio stops here, named: a dataset should not hold one
            if what := clip.emptiness():
                empty[what].append(path)
                continue
            self.samples.append((str(path), self.class_to_idx[parts[0]]))
            self.clips.append(clip)
        self.targets = [label for _, label in self.samples]
        check_every_class_found(root, self.classes, self.targets, "clips", AUDIO_SUFFIXES,
                                "(non-empty, non-silent) ")
        for line in self._report(empty):
            say(f"{root}: {line}")

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> tuple[Clip, int]:
        return self.clips[index], self.samples[index][1]

    def name(self, index: int) -> str:
        return self.samples[index][0]

    def _report(self, empty: dict[str, list[Path]]) -> list[str]:
        """One line each for what was changed or skipped, with counts and an example."""
        lines = []
        changed = Counter(c for clip in self.clips for c in clip.conversions)
        rates = Counter(clip.rate for clip in self.clips)
        if len(rates) > 1:
            usual = rates.most_common(1)[0][0]
            changed |= {f"{r} Hz (most are {usual} Hz)": n for r, n in rates.items() if r != usual}
        if changed:
            lines.append(converted_line(changed) + "; every clip is resampled to the model's rate")
        for what, why in NO_SOUND.items():
            if empty[what]:
                lines.append(f"skipped {len(empty[what])} {what} clip(s) ({why}), e.g. {empty[what][0]}")
        seconds = [clip.seconds for clip in self.clips]
        median = statistics.median(seconds)
        long = [i for i, s in enumerate(seconds) if s > LONG_CLIP * median]
        if long:
            worst = max(long, key=seconds.__getitem__)
            lines.append(f"{len(long)} clip(s) far longer than the rest (median {median:.2f} s), longest "
                         f"{self.samples[worst][0]} at {seconds[worst]:.1f} s: features crop each clip to the "
                         "model's clip length")
        return lines


def audio_splits(root: Path, splits: tuple[str, ...], say=print) -> dict[str, AudioFolder] | None:
    """The splits as audio folders, or None when `root` holds no audio (an image folder); a DataError when it
    holds both."""
    clips = [f for s in splits for f in find_images(root / s, AUDIO_SUFFIXES)]
    if not clips:
        return None
    images = [f for s in splits for f in find_images(root / s)]
    if images:
        raise DataError(f"{root} mixes images ({len(images)}, e.g. {images[0]}) and audio clips ({len(clips)}, "
                        f"e.g. {clips[0]}): a dataset is one or the other (images end {', '.join(IMAGE_SUFFIXES)}, "
                        f"clips {', '.join(AUDIO_SUFFIXES)}); move one kind out")
    return {s: AudioFolder(root / s, say) for s in splits}


def fit_to_data(model, audio: bool, data: str | None) -> None:
    """An image model given audio reads the default log-mel features as a one-channel image; an audio model
    given images is refused."""
    if audio and model.preprocessing.audio is None:
        model.describe(preprocessing=audio_preprocessing())
    elif not audio and model.preprocessing.audio is not None:
        raise DataError(f"{model.preset or 'this model'} takes audio clips, but "
                        f"{data or 'digits'} holds images: give a folder of <class>/<clip>.wav")
