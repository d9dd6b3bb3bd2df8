"""Channel rounding, the one rule every width in the zoo is rounded by: a spec-level computation, so no torch."""


def make_divisible(value: float, divisor: int, minimum: int | None = None, keep: float = 0.9) -> int:
    """Round to the nearest multiple of `divisor` (at least `minimum`, default `divisor`), then one multiple up if
    that lost more than 1 - `keep` of `value` (keep=0: never)."""
    minimum = minimum or divisor
    rounded = max(minimum, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < keep * value else rounded
