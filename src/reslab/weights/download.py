"""A weight set's file on this machine: found in its source's usual cache, or downloaded into it.

- torchvision (and plain "url" files): torch.hub's cache, `$TORCH_HOME/hub/checkpoints/<torchvision's file name>`
  (`torch.hub.get_dir()`), so a machine that has torchvision's file needs no download. A download goes to a
  temporary file in that folder and is renamed only when whole and when its sha256 starts with the digits in its
  name; anything else is removed.
- hf: Hugging Face hub repos through huggingface_hub, which keeps its own cache and writes it atomically. The
  environment is read when a file is asked for: HF_HUB_CACHE / HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE=1.
- package: files shipped in reslab/weights/trained/.

HF_HUB_OFFLINE=1 forbids downloads from every source, not only the hub.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

from ..util.files import cache_home
from ..util.progress import ProgressBar
from .catalogue import WeightSet, get_weights
from .errors import WeightsError

CHUNK = 1 << 20


def weights_file(weights: WeightSet | str, *, progress: bool | None = None) -> Path:
    """The local file of a weight set (or its name), downloaded into its source's cache when not there yet.

    `progress`: a bar on stderr while downloading (None: only when stderr is a terminal)."""
    ws = get_weights(weights) if isinstance(weights, str) else weights
    if ws.source == "package":
        return _package_file(ws)
    if ws.source == "hf":
        return _fetch_hf(ws, progress)
    if ws.source in ("torchvision", "url"):
        return _fetch_url(ws, progress)
    raise WeightsError(f"{ws.tag}: unknown source {ws.source!r} in the catalogue")


def cached_path(ws: WeightSet) -> Path | None:
    """The file, when it is already on this machine; never touches the network."""
    if ws.source == "package":
        path = _package_path(ws)
        return path if path.is_file() else None
    if ws.source == "hf":
        found = _hf_cached(ws)
        return Path(found) if found else None
    path = torch_hub_dir() / "checkpoints" / ws.file_name
    return path if path.is_file() and path.stat().st_size > 0 else None


def cache_location(ws: WeightSet) -> Path:
    """Where the file is, or would be put: the place to copy a cache to on a machine without network."""
    if ws.source == "package":
        return _package_path(ws)
    if ws.source == "hf":
        return hf_cache_dir() / ("models--" + ws.hf_repo.replace("/", "--"))
    return torch_hub_dir() / "checkpoints" / ws.file_name


def offline() -> bool:
    """huggingface_hub's switch, read now (not when huggingface_hub was imported)."""
    return any((os.environ.get(v) or "").upper() in ("1", "ON", "YES", "TRUE")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def torch_hub_dir() -> Path:
    """torch.hub.get_dir() by its rule, read now and without importing torch: the folder torch.hub.set_dir()
    chose, else TORCH_HOME, else XDG_CACHE_HOME/torch, else ~/.cache/torch; then hub/. ~ is cache_home's (an empty
    HOME is not the root folder)."""
    chosen = getattr(sys.modules.get("torch.hub"), "_hub_dir", None)
    if chosen:
        return Path(chosen)
    torch_home = os.environ.get("TORCH_HOME")
    return (Path(os.path.expanduser(torch_home)) if torch_home else cache_home() / "torch") / "hub"


def hf_cache_dir() -> Path:
    """huggingface_hub's cache folder by its rules (HF_HUB_CACHE, else HF_HOME/hub, else
    XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub), read now."""
    hub = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if hub:
        return Path(os.path.expandvars(os.path.expanduser(hub)))
    home = os.environ.get("HF_HOME")
    return (Path(os.path.expandvars(os.path.expanduser(home))) if home else cache_home() / "huggingface") / "hub"


def hf_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


# --- torchvision and plain addresses: torch.hub's cache ---------------------------------------------------------

def _fetch_url(ws: WeightSet, progress: bool | None) -> Path:
    found = cached_path(ws)
    if found is not None:
        return found
    dest = cache_location(ws)
    if offline():
        raise WeightsError(_not_cached(ws, "HF_HUB_OFFLINE=1 forbids downloading"))
    try:
        return download_url(ws.url, dest, sha256_prefix=ws.sha256_prefix, sha256=ws.sha256, progress=progress,
                            what=ws.tag)
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, _Incomplete) as e:
        reason = getattr(e, "reason", None) or e
        raise WeightsError(_not_cached(ws, f"downloading {ws.url} failed ({reason})")) from None


class _Incomplete(OSError):
    """The connection ended before the whole file came."""


def download_url(url: str, dest: Path, *, sha256_prefix: str | None = None, sha256: str | None = None,
                 progress: bool | None = None, what: str | None = None) -> Path:
    """Download `url` to `dest` through a temporary file beside it, renamed only when the file is whole and its
    sha256 is the published one; a failure (a cut connection, Ctrl-C, a wrong hash) leaves no file behind."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".tmp-{secrets.token_hex(4)}-{dest.name}.partial"
    digest = hashlib.sha256()
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "reslab"})
        with urllib.request.urlopen(request, timeout=60) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            bar = ByteProgress(total, f"download {what or dest.name}", progress)
            done = 0
            while chunk := response.read(CHUNK):
                if not done:
                    _refuse_html(url, response.headers.get("Content-Type"), chunk, what)
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                bar.update(done)
            if total and done != total:
                raise _Incomplete(f"the connection ended after {done} of {total} bytes")
            bar.finish(done)
            out.flush()
            os.fsync(out.fileno())
        _check_hash(digest.hexdigest(), sha256_prefix, sha256, what or url)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _refuse_html(url: str, content_type: str | None, first: bytes, what: str | None) -> None:
    """A login, error or mirror page served with status 200 is HTML, not weights: said for what it is (not as a
    damaged checkpoint, or a wrong hash, later)."""
    kind = (content_type or "").partition(";")[0].strip().lower()
    start = first[:64].lstrip()
    tag = next((t for t in (b"<!doctype html", b"<html") if start.lower().startswith(t)), None)
    if kind in ("text/html", "application/xhtml+xml"):
        why = f"content-type {kind}"
    elif tag:
        why = f"it begins {start[:len(tag)].decode('ascii')!r}"
    else:
        return
    raise WeightsError(f"{what + ': ' if what else ''}{url} answered with an HTML page ({why}), not a checkpoint: "
                       "nothing was saved; check the address, or the proxy or mirror in between")


def _check_hash(actual: str, prefix: str | None, full: str | None, what: str) -> None:
    expected = full or prefix
    if expected and not actual.startswith(expected.lower()):
        raise WeightsError(f"the file downloaded for {what} has sha256 {actual[:16]}..., not the published "
                           f"{expected[:16]}...: refused and removed (a damaged or altered download; try again)")


class ByteProgress(ProgressBar):
    """ProgressBar counting bytes: megabytes done of total, MB/s and the time left."""

    def __init__(self, total: int, prefix: str, enabled: bool | None = None):
        stream = sys.stderr
        super().__init__(total, prefix, stream.isatty() if enabled is None else enabled, stream)

    def update(self, done: int, images: int = 0, detail: str = "") -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.last_draw < 0.2:
            return
        self.last_draw = now
        self._draw(done, now)

    def finish(self, done: int) -> None:
        if self.enabled:
            self._draw(done, time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, done: int, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        width, total = 20, self.total or done or 1
        filled = int(width * min(done / total, 1.0))
        eta = f" eta {(total - done) / rate:4.0f}s" if self.total and rate > 0 else ""
        self.stream.write(f"\r{self.prefix} [{'#' * filled}{'.' * (width - filled)}] {done / 2**20:.1f}/"
                          f"{self.total / 2**20:.1f} MB {rate / 2**20:6.1f} MB/s{eta}")
        self.stream.flush()


# --- Hugging Face hub ----------------------------------------------------------------------------------------------

def _hf_cached(ws: WeightSet) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(ws.hf_repo, ws.hf_file, cache_dir=hf_cache_dir())
    return found if isinstance(found, str) else None


def _fetch_hf(ws: WeightSet, progress: bool | None) -> Path:
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError,
                                        OfflineModeIsEnabled, RepositoryNotFoundError)

    found = _hf_cached(ws)
    if found:
        return Path(found)
    if offline():
        raise WeightsError(_not_cached(ws, "HF_HUB_OFFLINE=1 forbids downloading"))
    endpoint = hf_endpoint()
    try:  # one look first, without huggingface_hub's retries: no network is said at once, not after half a minute
        _supported(get_hf_file_metadata)(hf_hub_url(ws.hf_repo, ws.hf_file, endpoint=endpoint), endpoint=endpoint)
    except HfHubHTTPError:
        pass  # the hub answered: hf_hub_download says what the answer means, below
    except OfflineModeIsEnabled:
        raise WeightsError(_not_cached(ws, "huggingface_hub is in offline mode (HF_HUB_OFFLINE was set when it "
                                           "was loaded)")) from None
    except _transport_errors() as e:
        raise WeightsError(_not_cached(ws, f"{endpoint} cannot be reached ({_first_line(e)})")) from None
    try:
        path = _supported(hf_hub_download)(ws.hf_repo, ws.hf_file, cache_dir=hf_cache_dir(), endpoint=endpoint,
                                           tqdm_class=_hub_progress(f"download {ws.tag}", progress))
    except (RepositoryNotFoundError, EntryNotFoundError) as e:
        if isinstance(e, LocalEntryNotFoundError):  # the hub did not answer as a hub, and the file is not cached
            cause = e.__cause__
            why = (f"{endpoint} answered {_first_line(cause)}" if isinstance(cause, HfHubHTTPError)
                   else f"{endpoint} cannot be reached" + (f" ({_first_line(cause)})" if cause else ""))
            raise WeightsError(_not_cached(ws, why)) from None
        raise WeightsError(f"{ws.tag}: {endpoint} has no file {ws.hf_file} in repo {ws.hf_repo} "
                           f"({_first_line(e)})") from None
    except OfflineModeIsEnabled:
        raise WeightsError(_not_cached(ws, "huggingface_hub is in offline mode (HF_HUB_OFFLINE was set when it "
                                           "was loaded)")) from None
    except HfHubHTTPError as e:
        raise WeightsError(_not_cached(ws, f"{endpoint} answered {_first_line(e)}")) from None
    except _transport_errors() as e:
        raise WeightsError(_not_cached(ws, f"{endpoint} cannot be reached ({_first_line(e)})")) from None
    path = Path(path)
    if ws.sha256:
        _check_hash(_sha256_of(path), None, ws.sha256, ws.tag)
    return path


def _supported(fn):
    """`fn` called with only the keyword arguments this huggingface_hub version knows (endpoint=, tqdm_class=
    came after 0.23)."""
    import inspect

    known = inspect.signature(fn).parameters

    def call(*args, **kwargs):
        return fn(*args, **{k: v for k, v in kwargs.items() if k in known})

    return call


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of a request that never got an answer, for the HTTP client this huggingface_hub uses."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"),
                         ("requests.exceptions", "ConnectionError"), ("requests.exceptions", "Timeout")):
        if module.split(".")[0] in sys.modules:
            found = getattr(sys.modules.get(module), name, None)
            if isinstance(found, type) and issubclass(found, BaseException):
                errors.append(found)
    return tuple(errors)


def _hub_progress(prefix: str, enabled: bool | None):
    """A class huggingface_hub accepts as `tqdm_class` (it calls cls(total=..., initial=..., ...), then update(n)
    and close()), drawing a ByteProgress instead of tqdm's bar."""

    class HubProgress:
        def __init__(self, *args, total=None, initial=0, **kwargs):
            self.bar = ByteProgress(int(total or 0), prefix, enabled)
            self.n = int(initial or 0)

        def update(self, n=1):
            self.n += n
            self.bar.update(self.n)

        def close(self):
            self.bar.finish(self.n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    return HubProgress


# --- files shipped in the package ---------------------------------------------------------------------------------

def _package_path(ws: WeightSet) -> Path:
    return Path(str(resources.files(__package__).joinpath("trained", ws.file_name or f"{ws.tag}.safetensors")))


def _package_file(ws: WeightSet) -> Path:
    path = _package_path(ws)
    if not path.is_file():
        raise WeightsError(f"{ws.tag} should ship with ResLab as {path}, which is missing: reinstall reslab")
    if ws.sha256:
        _check_hash(_sha256_of(path), None, ws.sha256, ws.tag)
    return path


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _not_cached(ws: WeightSet, why: str) -> str:
    return (f"{ws.tag} is not on this machine (looked in {cache_location(ws)}) and {why}: run `reslab weights "
            f"download {ws.tag}` on a machine with network and copy {_what_to_copy(ws)}, or load a file of your own "
            "with weights=PATH")


def _what_to_copy(ws: WeightSet) -> str:
    if ws.source == "hf":
        return f"its {cache_location(ws).name} folder into {hf_cache_dir()} (HF_HUB_CACHE)"
    return f"{ws.file_name} into {cache_location(ws).parent} ($TORCH_HOME/hub/checkpoints)"


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
