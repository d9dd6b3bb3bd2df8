"""A run directory as training starts one: its files (named in reslab.rundir) and whether a new run may start
there."""
from ..rundir import CONFIG, EMA_WEIGHTS, LEGACY_STATE, METRICS, STATE, TENSORBOARD, WEIGHTS

RUN_FILES = (CONFIG, METRICS, TENSORBOARD, WEIGHTS, EMA_WEIGHTS, STATE, LEGACY_STATE)


def claim(run_dir, overwrite: bool) -> bool:
    """Check that a new run may start in `run_dir` before anything is written; return whether it replaces files
    there (then the caller writes nothing until its first checkpoint, so a run that fails early changes nothing).

    A missing or empty folder is free. Anything else (a finished or stopped run, a run of another kind, files
    ResLab did not write) is refused, said in one line, unless `overwrite`; even then only a run's own files are
    replaced, never the others."""
    from pathlib import Path

    from ..errors import ReslabError

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ReslabError(f"--output {run_dir} is a file, not a folder; give a folder for the run")
    names = sorted(p.name for p in run_dir.iterdir()) if run_dir.is_dir() else []
    if not names:
        return False
    if overwrite:
        return True
    resume = f", --resume {run_dir} to continue it" if STATE in names else ""
    raise ReslabError(f"--output {run_dir} already holds {_contents(run_dir, names)}; nothing there was changed: "
                      f"give a new --output{resume}, or --overwrite to replace the run's files")


def _contents(run_dir, names: list[str]) -> str:
    """'a training run of resnet20_cifar (3 epochs logged) and 2 other files (a.txt, b.txt)'."""
    import json

    others = [n for n in names if n not in RUN_FILES and not n.startswith(".tmp-")]
    parts = []
    if CONFIG in names:
        try:
            saved = json.loads((run_dir / CONFIG).read_text())
            kind = "pre-training" if "method" in saved else "training"
            what = f"a {kind} run of {saved.get('model', 'an unknown model')}"
        except (OSError, ValueError, AttributeError):
            what = "a run whose config.json is unreadable"
        if METRICS in names:
            try:
                rows = max(0, len((run_dir / METRICS).read_text().splitlines()) - 1)
                what += f" ({rows} epoch{'s' if rows != 1 else ''} logged)"
            except OSError:
                pass
        parts.append(what)
    elif len(others) < len(names):
        parts.append("files of a run (" + ", ".join(n for n in names if n in RUN_FILES) + ")")
    if others:
        shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
        parts.append(f"{len(others)} {'other ' if parts else ''}file{'s' if len(others) != 1 else ''} ResLab did "
                     f"not write ({shown})")
    return " and ".join(parts)
