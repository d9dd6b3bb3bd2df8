"""The bad-input suite's table, before and after: every CLI call of tests/bad_inputs with its exit code and the
line the user sees, run once against an older commit's source and once against this tree's.

    .venv/bin/python benchmarks/bad_input_table.py --before e528228 --output benchmarks/BAD_INPUTS.md

The tests themselves are this tree's (the harness records each `reslab` call when RESLAB_BAD_INPUT_TABLE is
set); only the library under test changes, through PYTHONPATH. A test may fail against the older source (that
is the point): its calls are still recorded, and a crash shows as the exception's last line.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def record(src: Path, table: Path) -> list[dict]:
    env = {**os.environ, "RESLAB_BAD_INPUT_TABLE": str(table), "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-m", "pytest", "tests/bad_inputs", "-q", "-p", "no:cacheprovider", "-n", "2"],
                   cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [json.loads(line) for line in table.read_text().splitlines()] if table.exists() else []


def keyed(rows: list[dict]) -> dict[tuple[str, int], dict]:
    """(test case, n-th call in it) -> row: the temporary paths differ between runs, the order does not."""
    seen: dict[str, int] = defaultdict(int)
    out = {}
    for row in rows:
        out[row["case"], seen[row["case"]]] = row
        seen[row["case"]] += 1
    return out


def short(text: str) -> str:
    """Temporary folders shortened to '…/name', pipes escaped for Markdown."""
    text = re.sub(r"/tmp/[^\s'\"]*/([^/\s'\"]+)", r"…/\1", text)
    return text.replace("|", "\\|").replace("\n", " ")[:160]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git commit whose src/ is the 'before'")
    parser.add_argument("--output", type=Path, default=None, help="Markdown file (default: print)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.before], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            before = keyed(record(old / "src", Path(tmp) / "before.jsonl"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=REPO, check=False)
        after = keyed(record(REPO / "src", Path(tmp) / "after.jsonl"))
    cases = sorted({case for case, _ in after})
    lines = [f"# Bad inputs, before ({args.before}) and after", "",
             f"{len(after)} `reslab` calls in {len(cases)} test cases of tests/bad_inputs; 'crash' is a traceback.", "",
             "| case | command | before: exit, message | after: exit, message |", "|---|---|---|---|"]
    for key in sorted(after):
        a, b = after[key], before.get(key)
        was = f"{b['code']}: {short(b['message'])}" if b else "(not reached)"
        lines.append(f"| {key[0]} | `{short(a['command'])}` | {was} | {a['code']}: {short(a['message'])} |")
    text = "\n".join(lines) + "\n"
    if args.output:
        args.output.write_text(text)
        print(f"{len(after)} calls, {len(cases)} cases -> {args.output}")
    else:
        print(text)


if __name__ == "__main__":
    main()
