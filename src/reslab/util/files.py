"""Writing files safely: a temporary file beside the target, then a rename, so a crash or a full disk leaves the
previous file whole; and an output place checked before the minutes of work that would fill it."""
from __future__ import annotations

import errno
import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable

from ..errors import ReslabError


def atomic_write(path, write: Callable[[str], object]):
    """write(temporary file beside `path`), then rename it to `path`: a crash or a full disk leaves the old file.

    Returns what `write` returns; an OSError names `path` (not the temporary file) and removes the latter.
    """
    path = Path(path)
    results = write_together({path: write})
    return results[path]


def write_together(files: dict[Path, Callable[[str], object]]) -> dict[Path, object]:
    """Write each file to a temporary beside it, then rename them all in order: a failed write removes the
    temporaries and leaves every previous file as it was (a checkpoint's weights never without their state)."""
    staged: dict[Path, Path] = {}
    results = {}
    try:
        for path, write in files.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f".tmp-{secrets.token_hex(4)}-{path.name}"  # keeps the suffix: loaders need it
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # usual permissions, not 0600
                staged[path] = tmp
                results[path] = write(str(tmp))
            except OSError as e:  # name the file the user knows, not our temporary
                if e.errno is None:
                    raise
                raise type(e)(e.errno, e.strerror, str(path)) from None
    except BaseException:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    for path, tmp in staged.items():
        os.replace(tmp, path)
    return results


def write_bytes(tmp, data: bytes) -> None:
    """Write and sync `data`: a full disk is an OSError here, never an abort in native code or a late surprise."""
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def cache_home() -> Path:
    """The user's cache folder: $XDG_CACHE_HOME, else ~/.cache, ~ being $HOME or, when HOME is unset or empty, the
    home the password database gives this user (an empty HOME would put every cache in /.cache); a ReslabError
    when neither names one."""
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"])
    home = os.environ.get("HOME")
    if not home:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError):  # no password database, or no entry for this user
            home = ""
    if not home:
        raise ReslabError(f"no cache folder: HOME is {'empty' if 'HOME' in os.environ else 'not set'} and user "
                          f"{os.getuid()} has no home in the password database; set HOME, or XDG_CACHE_HOME")
    return Path(home) / ".cache"


def reslab_cache() -> Path:
    """ResLab's own caches (decoded images, model costs, tracebacks): $RESLAB_CACHE, else cache_home()/reslab. The
    weight caches are torch.hub's and the Hugging Face hub's, by their own rules (weights.download)."""
    if os.environ.get("RESLAB_CACHE"):
        return Path(os.path.expanduser(os.environ["RESLAB_CACHE"]))
    return cache_home() / "reslab"


def describe_os_error(e: OSError, with_name: bool = True) -> str:
    """'no space left on device: out/x.onnx' rather than '[Errno 28] No space left on device: ...'."""
    reason = {errno.ENOSPC: "no space left on device", errno.EACCES: "permission denied",
              errno.EROFS: "read-only file system", errno.ENOENT: "no such file or directory",
              errno.EISDIR: "is a directory", errno.ENOTDIR: "not a directory"}.get(e.errno) \
        or (e.strerror or str(e)).lower()
    return f"{reason}: {e.filename}" if with_name and e.filename is not None else reason


def save_or_explain(path, write: Callable[[str], object], error: type[ReslabError] = ReslabError) -> None:
    """atomic_write, with a failure said in one line: 'cannot write r.json: no space left on device'."""
    try:
        atomic_write(Path(path), write)
    except OSError as e:
        raise error(f"cannot write {path}: {describe_os_error(e, with_name=False)}") from None


def check_writable_file(path: Path, error: type[ReslabError] = ReslabError) -> None:
    """Fail now, not after minutes of measuring or training, when `path` cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise error(f"cannot write {path}: it is a folder; name a file to write")
    check_writable_folder(path.parent, error)


def check_writable_folder(folder: Path, error: type[ReslabError] = ReslabError) -> None:
    """Create `folder` if needed and make sure a file can be made in it."""
    folder = Path(folder)
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise error(f"cannot write into {folder}: {existing} is a file, not a folder; choose another place")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise error(f"cannot write into {folder}: {describe_os_error(e, with_name=False)}; choose another place") \
            from None
