"""Experiments across models: side-by-side comparisons, the design roadmap and the evolution walk, each writing a
report."""
