"""`--labels-per-class N`: exactly N labelled images of every class, drawn with the run's seed; the rest of the
training split is not used as labelled data."""
from __future__ import annotations

from collections import Counter

from ..data import ClassBalancedSubset, DataError


def labels_per_class(train_set, n: int, seed: int) -> ClassBalancedSubset:
    counts = Counter(train_set.targets)
    smallest = min(range(len(train_set.classes)), key=lambda c: counts.get(c, 0))
    if counts.get(smallest, 0) < n:
        raise DataError(f"--labels-per-class {n} is more than the {counts.get(smallest, 0)} training images of class "
                        f"{train_set.classes[smallest]!r}; give at most {counts.get(smallest, 0)}")
    return ClassBalancedSubset(train_set, n * len(train_set.classes), seed=seed)
