"""The one image decoder and the one folder scan, shared by the datasets and `reslab predict`.

Decoding: any file PIL reads becomes fully decoded 8-bit RGB, 16-bit and float images scaled (not clipped);
a file that cannot be decoded, a decompression bomb included, is an UnreadableImageError naming it, and so is
anything but a regular file (a FIFO named a.png would block its reader for ever).
Scanning: images under a folder, symlinks followed, hidden names skipped; an image reached twice (a symlink
loop or a second link) is a DataError, since it would silently count more than once.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


class UnreadableImageError(DataError):
    """A file that is missing or that PIL cannot decode; the message names it."""


def open_image(path) -> Image.Image:
    """The image at `path` as 8-bit RGB, decoded in full here (a truncated file fails now, not later)."""
    check_regular_file(path)
    try:
        with Image.open(path) as img:
            return to_rgb(img)
    except FileNotFoundError:
        raise UnreadableImageError(f"{path}: no such file") from None
    # PIL signals bad data with all of these; a decompression bomb is no OSError but is just as unreadable
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise UnreadableImageError(f"{path}: cannot decode image ({type(e).__name__}: {e})") from None


SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                 (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def check_regular_file(path) -> None:
    """UnreadableImageError naming `path` unless it is a regular file (or a link to one): opening a FIFO waits
    for a writer and a device may never end, so neither is read. A file object, or a path that cannot be looked at
    (opening it says why), passes."""
    try:
        mode = os.stat(path).st_mode if isinstance(path, (str, os.PathLike)) else stat.S_IFREG
    except OSError:
        return
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in SPECIAL_FILES if test(mode)), "a special file")
        raise UnreadableImageError(f"{path}: {kind}, not a regular file: only regular files are read")


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB. convert("RGB") clips 16-bit and float pixels at 255, so those are scaled to 0..255 first."""
    if img.mode in SIXTEEN_BIT_MODES or img.mode in ("I", "F"):
        img = Image.fromarray(_scale_to_8bit(np.asarray(img), img.mode))
    elif img.mode == "P" and "transparency" in img.info:  # through RGBA, as PIL asks, instead of a warning each
        img = img.convert("RGBA")
    return img.convert("RGB")


def _scale_to_8bit(pixels: np.ndarray, mode: str) -> np.ndarray:
    a = np.nan_to_num(pixels.astype(np.float64))
    lo, hi = float(a.min()), float(a.max())
    if mode in SIXTEEN_BIT_MODES or (mode == "I" and lo >= 0 and hi <= 65535):  # PIL opens 16-bit files as I too
        a = a / 257.0
    elif mode == "F" and lo >= 0 and hi <= 1:
        a = a * 255.0
    else:  # 32-bit integers or floats outside [0, 1] have no standard range: stretch the one the image has
        a = (a - lo) * (255.0 / max(hi - lo, 1e-12))
    return np.round(a).clip(0, 255).astype(np.uint8)


def find_images(folder: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """The image files (or files ending in `suffixes`: audio clips) under `folder`, recursively and sorted; each
    real file once, or a DataError naming both paths to it."""
    folder = Path(folder)
    dirs_seen: dict[str, str] = {}
    files_seen: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real_dir = os.path.realpath(dirpath)
        if real_dir in dirs_seen:
            raise DataError(f"{dirpath} is the same folder as {dirs_seen[real_dir]} (a symlink loop or a second "
                            f"link): its images would count more than once; remove the link")
        dirs_seen[real_dir] = dirpath
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in suffixes:
                continue
            # resolving only links keeps a million-file scan to one lstat per file
            real = os.path.realpath(path) if path.is_symlink() else os.path.join(real_dir, name)
            if real in files_seen:
                raise DataError(f"{path} and {files_seen[real]} are the same file (linked twice): it would count "
                                f"more than once; keep one path per image")
            files_seen[real] = path
    return sorted(files_seen.values())


def check_every_class_found(root, classes: list[str], targets: list[int], kind: str, suffixes,
                            qualifier: str = "") -> None:
    """A DataError naming the class folders of `root` in which no file of `kind` (ending in `suffixes`) was
    found (`qualifier`: e.g. "(non-empty) ")."""
    found = set(targets)
    missing = [c for i, c in enumerate(classes) if i not in found]
    if missing:
        raise DataError(f"{root}: class directories without {qualifier}{kind}: {', '.join(missing)} ({kind} end "
                        f"{', '.join(suffixes)})")
