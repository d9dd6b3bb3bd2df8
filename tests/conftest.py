import os
import threading
from pathlib import Path

import pytest
import torch

# two threads (the machine the suite is sized for has 2 cores), or OMP_NUM_THREADS when set (e.g. 1 while a training
# run uses the other core)
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or max(1, min(2, os.cpu_count() or 1))))

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # the complexity cache lives under XDG_CACHE_HOME; tests must not depend on a user's cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """A valid two-class ImageFolder dataset (16 x 16 PNGs); do not modify it: copy it first."""
    from bad_inputs.harness import write_image_folder

    return write_image_folder(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture
def fifo():
    """fifo(path): a named pipe at `path`. Every 20 s, whoever is blocked opening one (the fault) is released by
    opening its other end, and counted in fifo.released, so that a regression fails instead of hanging."""
    made, done = [], threading.Event()

    def release():
        while not done.wait(20):
            for path in made:
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                    make.released.append(path)
                except OSError:  # nobody is reading it: nothing to release
                    pass

    threading.Thread(target=release, daemon=True).start()

    def make(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        made.append(path)
        return path

    make.released = []
    yield make
    done.set()
