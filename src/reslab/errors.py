"""The base of every error ResLab raises on bad input: the CLI prints these as one clear line."""


class ReslabError(Exception):
    """Bad input: the message says what was wrong and what to do instead."""
