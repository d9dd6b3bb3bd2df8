"""report.html is self-contained and renders: headless Chromium screenshots it and the picture is not blank."""
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.image import imread

from reslab.report import Comparison, ModelSummary, RunRecord, write_report


def _comparison() -> Comparison:
    def runs(model, accs):
        # the log's accuracies are fractions, the record's top-1 a percentage
        return [RunRecord(model, seed, f"runs/{model}/seed{seed}", acc, 10.0 + seed,
                          {"train_acc": [(acc - 15) / 100, (acc - 4) / 100, (acc + 5) / 100],
                           "val_top1": [(acc - 20) / 100, (acc - 8) / 100, acc / 100],
                           "train_loss": [2.1, 1.4, 0.9 + seed / 10], "val_loss": [2.0, 1.5, 1.1]})
                for seed, acc in enumerate(accs)]
    return Comparison("digits <comparison> & more", [
        ModelSummary("resnet20_cifar", runs("resnet20_cifar", [80.0, 82.0, 81.0]), 0.27, 0.041, 950.0),
        ModelSummary("resnet32_cifar", runs("resnet32_cifar", [83.0, 84.5, 85.0]), 0.46, 0.069, 610.0),
    ], {"recipe": "cifar", "epochs": 3}, "2-core CPU")


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("headless Chromium is needed to render the report: `make test` installs Debian's chromium "
                    "package, or run `apt-get install -y chromium`")
    return path


def _screenshot(page, png, profile) -> np.ndarray:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1200,900", page.as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return imread(png)[..., :3]


def test_html_report_is_self_contained(tmp_path):
    _, page = write_report(_comparison(), tmp_path, ("train_loss", "val_loss"))
    text = page.read_text()
    sources = re.findall(r'src="([^"]+)"', text)
    assert len(sources) == 5 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in text and "https://" not in text and "<link" not in text
    assert "digits &lt;comparison&gt; &amp; more" in text  # titles are escaped, not injected


def test_html_report_renders_in_headless_chromium_and_is_not_blank(tmp_path):
    _, page = write_report(_comparison(), tmp_path / "report", ("train_loss", "val_loss"))
    pixels = _screenshot(page, tmp_path / "shot.png", tmp_path / "profile")
    assert pixels.shape[:2] == (900, 1200)
    assert pixels.std() > 0.1  # a white or single-colour page has (almost) no variance
    ink = (pixels.mean(axis=2) < 0.5).mean()
    assert ink > 0.005  # text, table rules and plot lines cover a visible part of the page


def test_a_blank_page_fails_the_same_check(tmp_path):
    # the check above can fail: an empty page screenshots as a flat image
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    pixels = _screenshot(blank, tmp_path / "blank.png", tmp_path / "profile")
    assert pixels.std() < 0.01
