"""Small utilities every layer may use and that use none of them: atomic files and caches, text tables, progress
bars and ETAs, and mixed precision."""
