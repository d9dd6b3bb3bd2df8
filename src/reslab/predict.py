"""Class predictions from a ResLab checkpoint, prepared exactly as its metadata says (resize, crop, mean/std)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .errors import ReslabError
from .models import build
from .registry import Preprocessing
from .spec import from_dict
from .weights import WeightsError, load_weights, read_checkpoint

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
PIL_FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST,
               "lanczos": Image.LANCZOS}


class UnreadableImageError(ReslabError, ValueError):
    """A file that is missing or that PIL cannot decode; the message names it."""


def load_image(path) -> Image.Image:
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise UnreadableImageError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise UnreadableImageError(f"{path}: cannot decode image ({type(e).__name__}: {e})") from None


def eval_transform(pre: Preprocessing, image) -> torch.Tensor:
    """Resize the short side to input_size / crop_pct, centre-crop input_size, scale to [0, 1], normalise."""
    size = pre.input_size
    resized = int(size / pre.crop_pct)
    if isinstance(image, Image.Image):
        w, h = image.size
        scale = resized / min(w, h)
        image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                             PIL_FILTERS.get(pre.interpolation, Image.BILINEAR))
        x = torch.from_numpy(np.asarray(image, dtype=np.float32).copy()).permute(2, 0, 1) / 255.0
    elif isinstance(image, torch.Tensor):
        if image.ndim != 3:
            raise ReslabError(f"a tensor image must be (C, H, W), got shape {tuple(image.shape)}")
        x = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
        h, w = x.shape[-2:]
        scale = resized / min(h, w)
        mode = pre.interpolation if pre.interpolation in ("bilinear", "bicubic", "nearest") else "bilinear"
        x = F.interpolate(x[None], size=(max(size, round(h * scale)), max(size, round(w * scale))), mode=mode,
                          antialias=mode != "nearest", align_corners=False if mode != "nearest" else None)[0]
    else:
        raise ReslabError(f"cannot predict on a {type(image).__name__}: give PIL images, (C, H, W) tensors or paths")
    top, left = (x.shape[1] - size) // 2, (x.shape[2] - size) // 2
    x = x[:, top:top + size, left:left + size]
    mean, std = torch.tensor(pre.mean).view(-1, 1, 1), torch.tensor(pre.std).view(-1, 1, 1)
    return (x - mean) / std


def model_from_checkpoint(checkpoint):
    """(model with `.preprocessing`, metadata) from a ResLab checkpoint; a mismatch names the keys that differ."""
    _, meta = read_checkpoint(checkpoint)
    if not meta:
        raise WeightsError(f"{checkpoint} carries no ResLab metadata (spec, preprocessing); save it with "
                           "reslab.save_weights(model, 'name.safetensors', classes=[...])")
    model = build(from_dict(meta["spec"]))
    load_weights(model, checkpoint)  # unlike a strict load_state_dict, names missing/unexpected/misshaped keys
    model.preset = meta.get("preset")
    pre = meta.get("preprocessing")
    model.preprocessing = Preprocessing.from_dict(pre) if pre else Preprocessing(input_size=model.spec.input_size)
    return model, meta


class Predictor:
    """`Predictor("model.safetensors").predict(images, topk=5)`: a list of [(class, probability), ...] per image."""

    def __init__(self, checkpoint, device: str = "cpu"):
        self.model, meta = model_from_checkpoint(checkpoint)
        self.model.eval().to(device)
        self.device = device
        self.preprocessing = self.model.preprocessing
        num_classes = self.model.spec.num_classes
        self.classes = meta.get("classes")
        if self.classes is not None and len(self.classes) != num_classes:
            raise WeightsError(f"{checkpoint}: metadata lists {len(self.classes)} class names but the classifier "
                               f"has {num_classes} outputs")

    def prepare(self, image) -> torch.Tensor:
        if isinstance(image, (str, Path)):
            image = load_image(image)
        return eval_transform(self.preprocessing, image)

    @torch.no_grad()
    def predict(self, images, topk: int = 5) -> list[list[tuple[str | int, float]]]:
        """Top-k (class name, or index when the checkpoint has no names, and probability) for each image."""
        if isinstance(images, (str, Path, Image.Image)) or (isinstance(images, torch.Tensor) and images.ndim == 3):
            images = [images]
        batch = torch.stack([self.prepare(im) for im in images]).to(self.device)
        probs = self.model(batch).softmax(-1)
        values, indices = probs.topk(min(topk, probs.shape[-1]), dim=-1)
        return [[(self.class_name(i), p) for i, p in zip(row_i.tolist(), row_p.tolist())]
                for row_i, row_p in zip(indices, values)]

    def class_name(self, index: int) -> str | int:
        return self.classes[index] if self.classes else index


def image_files(inputs) -> list[Path]:
    """Files named directly plus the images found (recursively, sorted) in named directories."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        else:
            files.append(item)
    return files


def predict_files(predictor: Predictor, files: list[Path], topk: int = 5, batch_size: int = 32, progress=None):
    """Yield (file, predictions or None, error message or None) in order; a bad file never stops the run."""
    for start in range(0, len(files), batch_size):
        chunk = files[start:start + batch_size]
        prepared, errors = [], {}
        for f in chunk:
            try:
                prepared.append(predictor.prepare(f))
            except UnreadableImageError as e:
                errors[f] = str(e)
        results = iter(predictor.predict(prepared, topk)) if prepared else iter(())
        for f in chunk:
            yield (f, None, errors[f]) if f in errors else (f, next(results), None)
        if progress is not None:
            progress(min(start + batch_size, len(files)), len(files))
