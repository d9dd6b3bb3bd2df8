"""Ship a finished ResLab run as a pretrained tag inside the package: its weights copied to
src/reslab/weights/trained/<TAG>.safetensors and an entry of source "package" in catalogue.json that records how
they were made (recipe, epochs, seed, validation top-1, the exact command), so anyone can retrain them.

    .venv/bin/python scripts/add_trained_tag.py /work/runs/resnet20_cifar10 resnet20_cifar.reslab_cifar10 \
        --command "reslab train --model resnet20_cifar ..." --data-note "..."

The run must have finished all its epochs; the tag's preset must be the run's model. Re-running replaces the entry.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from make_catalogue import write_json_lines  # noqa: E402

from reslab.train.checkpoint import load_state  # noqa: E402
from reslab.weights import load_model  # noqa: E402

WEIGHTS = ROOT / "src" / "reslab" / "weights"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("tag")
    p.add_argument("--command", required=True, help="the exact command that trained the run")
    p.add_argument("--data-note", default="", help="what the data was (source, split), for the notes")
    args = p.parse_args(argv)
    config = json.loads((args.run / "config.json").read_text())
    state = load_state(args.run)
    if state["epoch"] < config["epochs"]:
        raise SystemExit(f"{args.run} has done {state['epoch']} of its {config['epochs']} epochs: finish it first")
    preset = args.tag.split(".")[0]
    if preset != config["model"] or config.get("spec"):
        raise SystemExit(f"{args.run} trained {config['model']} {config.get('spec') or ''}, not the preset {preset}")
    rows = list(csv.DictReader(open(args.run / "metrics.csv")))
    model = load_model(args.run / "last.safetensors")  # reads back as a model: the file is whole and loadable
    target = WEIGHTS / "trained" / f"{args.tag}.safetensors"
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(args.run / "last.safetensors", target)
    pre = model.preprocessing
    entry = {"tag": args.tag, "preset": preset, "source": "package", "file_name": target.name,
             "sha256": hashlib.sha256(target.read_bytes()).hexdigest(), "layout": "reslab",
             "num_classes": len(model.classes), "classes": None,
             "preprocessing": {"input_size": pre.input_size, "crop_pct": pre.crop_pct,
                               "interpolation": pre.interpolation, "mean": list(pre.mean), "std": list(pre.std)},
             "top1": round(100 * float(rows[-1]["val_top1"]), 2),
             "top1_source": f"ResLab, validation split of {args.data_note or config['data']} (not ImageNet)",
             "file_size_mb": round(target.stat().st_size / 1e6, 3),
             "license": "apache-2.0",
             "notes": f"trained by ResLab; validation top-1 on {args.data_note or config['data']}",
             "train_error": round(100 * (1 - float(rows[-1]["train_acc"])), 2),
             "recipe": config["recipe"], "epochs": config["epochs"], "milestones": config["milestones"],
             "batch_size": config["batch_size"], "lr": config["lr"], "seed": config["seed"],
             "class_names": list(model.classes), "command": args.command}
    path = WEIGHTS / "catalogue.json"
    catalogue = json.loads(path.read_text())
    catalogue["tags"] = [e for e in catalogue["tags"] if e["tag"] != args.tag] + [entry]
    catalogue["defaults"].setdefault(preset, args.tag)
    catalogue["defaults"] = dict(sorted(catalogue["defaults"].items()))
    write_json_lines(path, catalogue)
    print(f"{args.tag}: {target} ({entry['file_size_mb']} MB), validation top-1 {entry['top1']}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
