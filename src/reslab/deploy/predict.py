"""Class predictions from a ResLab checkpoint: images (or audio clips) decoded and prepared exactly as `reslab eval`
prepares them (the shared decoder, then data.transforms.eval_transform with the checkpoint's preprocessing)."""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import torch
from PIL import Image

from ..data.audio_io import AUDIO_SUFFIXES, NO_SOUND, Clip, UnreadableAudioError, read_clip
from ..data.errors import DataError
from ..data.images import (IMAGE_SUFFIXES, UnreadableImageError, check_regular_file, find_images, open_image,
                          to_rgb)
from ..data.transforms import eval_transform
from ..errors import ReslabError
from ..util.files import atomic_write
from ..weights import load_model

__all__ = ["Predictor", "UnreadableImageError", "image_files", "predict_files", "write_predictions"]


class Predictor:
    """`Predictor("model.safetensors").predict(images, topk=5)` (or a run directory: its last weights): a list of
    [(class, probability), ...] per image.

    Also a model itself, with its `.preprocessing` (and `.classes`, if it has them):
    `Predictor(reslab.create_model("resnet50.a1_in1k", pretrained=True))`."""

    def __init__(self, checkpoint, device: str = "cpu"):
        self.model = checkpoint if isinstance(checkpoint, torch.nn.Module) else load_model(checkpoint)
        self.model.eval().to(device)
        self.device = device
        self.preprocessing = self.model.preprocessing
        self.transform = eval_transform(self.preprocessing, self.preprocessing.input_size)
        self.classes = self.model.classes
        self.converted = Counter()  # what reading the clips changed ("2 channels to mono", ...): clips per change

    def prepare(self, image) -> torch.Tensor:
        """A path, PIL image or (C, H, W) tensor (uint8 0..255 or float 0..1) as one normalised model input;
        for an audio model, a path or Clip as its log-mel features."""
        if isinstance(image, (str, Path)):
            check_regular_file(image)  # a FIFO named a.png or a.wav would block its reader for ever
            image = open_image(image) if self.preprocessing.audio is None else self._checked(read_clip(image), image)
        elif isinstance(image, Clip) and self.preprocessing.audio is not None:
            image = self._checked(image, "the clip")
        elif isinstance(image, Image.Image):
            image = to_rgb(image)
        elif isinstance(image, torch.Tensor):
            channels = len(self.preprocessing.mean)
            if image.ndim != 3 or image.shape[0] != channels:
                raise ReslabError(f"a tensor image must be ({channels}, H, W), got shape {tuple(image.shape)}")
            if image.dtype != torch.uint8 and not image.is_floating_point():
                raise ReslabError(f"a tensor image must be uint8 (0..255) or float (0..1), got {image.dtype}")
        else:
            raise ReslabError(f"cannot predict on a {type(image).__name__}: give PIL images, (C, H, W) tensors "
                              "or paths")
        return self.transform(image).as_subclass(torch.Tensor)

    def _checked(self, clip: Clip, name) -> Clip:
        """The clip, if it holds sound; its conversions counted (said once by the caller, not per clip)."""
        if what := clip.emptiness():
            raise UnreadableAudioError(f"{name} is {what} ({NO_SOUND[what]}): nothing to classify")
        rate = self.preprocessing.audio.sample_rate
        self.converted.update(clip.conversions + ((f"{clip.rate} Hz to {rate} Hz",) if clip.rate != rate else ()))
        return clip

    def predict(self, images, topk: int = 5) -> list[list[tuple[str | int, float]]]:
        """Top-k (class name, or index when the checkpoint has no names, and probability) for each image."""
        if isinstance(images, (str, Path, Image.Image)) or (isinstance(images, torch.Tensor) and images.ndim == 3):
            images = [images]
        images = list(images)
        return self.classify(torch.stack([self.prepare(im) for im in images]), topk) if images else []

    @torch.no_grad()
    def classify(self, batch: torch.Tensor, topk: int = 5) -> list[list[tuple[str | int, float]]]:
        """Top-k for a batch of images already prepared by `prepare`, (N, C, H, W)."""
        logits = self.model(batch.to(self.device))
        finite = torch.isfinite(logits).all(-1)
        if not finite.all():  # finite weights whose activations overflow: NaN probabilities would be printed
            raise ReslabError(f"the model's outputs are NaN or infinite for {int((~finite).sum())} of {len(batch)} "
                              "input(s), although its weights are finite (they overflow): this model cannot "
                              "predict; retrain it or use another checkpoint")
        probs = logits.softmax(-1)
        values, indices = probs.topk(min(topk, probs.shape[-1]), dim=-1)
        return [[(self.class_name(i), p) for i, p in zip(row_i.tolist(), row_p.tolist())]
                for row_i, row_p in zip(indices, values)]

    def class_name(self, index: int) -> str | int:
        return self.classes[index] if self.classes else index


def image_files(inputs) -> list[Path]:
    """Files named directly plus the images found (recursively, sorted, hidden names skipped) in named folders;
    a named folder without images is a DataError (a wrong folder, most likely)."""
    files = []
    for item in map(Path, inputs):
        found = (find_images(item) or find_images(item, AUDIO_SUFFIXES)) if item.is_dir() else [item]
        if not found:
            raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) or clips ({', '.join(AUDIO_SUFFIXES)}) in {item}")
        files += found
    return files


def predict_files(predictor: Predictor, files: list[Path], topk: int = 5, batch_size: int = 32, progress=None):
    """Yield (file, predictions or None, error message or None) in order; a bad file never stops the run, nor
    keeps the other files of its batch from being predicted."""
    for start in range(0, len(files), batch_size):
        chunk = files[start:start + batch_size]
        prepared, errors = [], []
        for f in chunk:
            try:
                prepared.append(predictor.prepare(f))
                errors.append(None)
            except UnreadableImageError as e:
                errors.append(str(e))
        results = iter(predictor.classify(torch.stack(prepared), topk) if prepared else [])
        for f, error in zip(chunk, errors):
            yield f, None if error else next(results), error
        if progress is not None:
            done = min(start + batch_size, len(files))
            progress.update(done, done)


def write_predictions(path: Path, rows) -> None:
    """The .json or .csv file, written through a temporary file and renamed: never half-written."""
    write = _write_json if path.suffix == ".json" else _write_csv
    atomic_write(path, lambda tmp: write(tmp, rows))


def _write_json(tmp: str, rows) -> None:
    data = [{"file": f, "predictions": [{"class": c, "probability": p} for c, p in preds]} for f, preds in rows]
    Path(tmp).write_text(json.dumps(data, indent=2))


def _write_csv(tmp: str, rows) -> None:
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "rank", "class", "probability"])
        for f, preds in rows:
            for rank, (c, p) in enumerate(preds, 1):
                writer.writerow([f, rank, c, f"{p:.6f}"])
