"""A pre-training run's weights have a backbone but no trained classifier: refused where a classifier is needed."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ReslabError
from .reading import METADATA_KEY, header


def pretrained_by(path) -> str | None:
    """The self-supervised method that produced the weights file at `path`, or None (any other file)."""
    try:
        meta = json.loads(header(path).get(METADATA_KEY, "{}"))
    except ValueError:
        return None  # not ours to judge: the loader says what is wrong with the file
    return meta.get("selfsup") if isinstance(meta, dict) else None


def refuse_headless(path) -> None:
    method = pretrained_by(path)
    if method is not None:
        run = Path(path).parent
        raise ReslabError(f"{path} is a {method} pre-training run: its backbone has no trained classifier. Fine-tune "
                          f"it (reslab train --weights {run} --data DIR) or probe it (add --recipe linear_probe) "
                          f"first, or score its features with reslab eval --knn --checkpoint {run} --data DIR")
