"""Channel rounding of the modern blocks and of the RegNet generator: a spec-level computation, so no torch."""


def make_divisible(value: float, divisor: int, minimum: int | None = None) -> int:
    """Round to the nearest multiple of `divisor` (at least `minimum`), never losing more than 10% of `value`."""
    minimum = minimum or divisor
    rounded = max(minimum, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded
