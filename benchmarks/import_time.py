"""How long ResLab takes to start: `import reslab`, `reslab --help` and `reslab models` against `import torch`.

Each command runs in a fresh interpreter `--repeats` times, alternating, and the median wall time is printed
with the machine; the heavy modules each command pulled in are listed (matplotlib, tensorboard and
torchvision.ops should appear for none of them). Target (issue 12): import reslab <= import torch + 0.3 s.

    .venv/bin/python benchmarks/import_time.py --repeats 7
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "torchvision", "torchvision.ops", "matplotlib", "tensorboard", "torch.utils.tensorboard")
PROBE = "import sys, json; {code}; print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
COMMANDS = {
    "import torch": "import torch",
    "import reslab": "import reslab",
    "import reslab; create_model": "import reslab; reslab.create_model('resnet50')",
    "reslab --help": "from reslab.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass",
    "reslab models": "from reslab.cli import main; main(['models', 'resnet5*'])",
}


def run(code: str) -> tuple[float, list[str]]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)], capture_output=True,
                         text=True, check=True).stdout
    return time.perf_counter() - t0, eval(out.strip().splitlines()[-1])  # noqa: S307 -- our own JSON list


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    loaded: dict[str, list[str]] = {}
    run("import torch, reslab")  # warm the file cache once
    for _ in range(args.repeats):
        for name, code in COMMANDS.items():
            seconds, loaded[name] = run(code)
            times[name].append(seconds)
    print(f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, Python "
          f"{platform.python_version()}; median of {args.repeats} fresh interpreters")
    for name, values in times.items():
        print(f"  {name:30s} {statistics.median(values):6.3f} s   heavy modules: {', '.join(loaded[name]) or 'none'}")
    extra = statistics.median(times["import reslab"]) - statistics.median(times["import torch"])
    print(f"import reslab - import torch = {extra:+.3f} s (target <= +0.300 s)")


if __name__ == "__main__":
    main()
