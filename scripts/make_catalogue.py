"""Write src/reslab/weights/catalogue.json and imagenet_classes.json from the installed oracles.

    .venv/bin/python scripts/make_catalogue.py [--timm-results PATH_OR_URL]

Facts come from the sources that publish them, never typed in by hand:
- timm's pretrained configurations (`timm.models.get_arch_pretrained_cfgs`): the tags of every architecture ResLab
  has, in timm's order (the first is timm's default), Hugging Face repo, preprocessing, number of classes, licence;
- torchvision's weight enums (`torchvision.models.get_model_weights`): download address (its file name carries the
  first hex digits of the file's sha256), published top-1, file size and evaluation transform;
- timm's published results table (`results/results-imagenet.csv` of huggingface/pytorch-image-models) for the top-1
  of timm's weights. Without it (no network and no local copy) the top-1 already in the catalogue is kept.

Only presets in ResLab's registry get tags, and only weights whose every tensor fits the preset (checked on the
meta device, no weights downloaded). Entries of source "package" (ResLab's own trained weights, added by hand) are
kept as they are. Re-running with the same oracle versions rewrites the same files.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
import urllib.request
import warnings
from pathlib import Path

import timm
import torch
import torchvision
from timm import models as timm_models
from torch import nn
from torchvision import models as tv_models

import reslab
from reslab.weights import WeightsError, load_state, to_reslab_layout

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "reslab" / "weights"
RESULTS_COMMIT = "0173a139a2c66db3a41ebfe1d8ac4fb02483642e"
RESULTS_URL = ("https://raw.githubusercontent.com/huggingface/pytorch-image-models/"
               f"{RESULTS_COMMIT}/results/results-imagenet.csv")
TORCHVISION_HOST = "https://download.pytorch.org/models/"
# torchvision's enum names -> timm's tag names for the same weights (timm's own naming of torchvision's sets)
TV_TAGS = {"IMAGENET1K_V1": "tv_in1k", "IMAGENET1K_V2": "tv2_in1k", "IMAGENET1K_SWAG_E2E_V1": "swag_ft_in1k",
           "IMAGENET1K_SWAG_LINEAR_V1": "swag_lc_in1k"}
FORMAT = "reslab-weights-catalogue/1"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timm-results", default=RESULTS_URL, help="results-imagenet.csv: a path or URL")
    parser.add_argument("--output", default=str(OUT / "catalogue.json"))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # FutureWarnings of old preset names, head notes: not the script's business

    out = Path(args.output)
    previous = json.loads(out.read_text()) if out.exists() else {"tags": []}
    top1_table = read_results(args.timm_results)
    kept_top1 = {} if top1_table else {e["tag"]: e for e in previous["tags"]}  # no table: keep what we had
    tv_index = torchvision_index()
    entries, defaults, skipped = [], {}, []
    for preset in reslab.list_presets():
        made = entries_for(preset, tv_index, top1_table, kept_top1, skipped)
        if made:
            defaults[preset.name] = made[0]["tag"]
            entries += made
    kept = [e for e in previous["tags"] if e.get("source") == "package"]
    for e in kept:
        defaults.setdefault(e["preset"], e["tag"])
    catalogue = {
        "format": FORMAT,
        "generated_by": "scripts/make_catalogue.py",
        "sources": {"timm": f"timm {timm.__version__} pretrained configurations",
                    "torchvision": f"torchvision {torchvision.__version__} weight enums",
                    "timm_top1": (f"huggingface/pytorch-image-models results/results-imagenet.csv @ {RESULTS_COMMIT}"
                                  if top1_table else previous.get("sources", {}).get("timm_top1"))},
        "defaults": dict(sorted(defaults.items())),
        "tags": entries + kept,
    }
    write_json_lines(out, catalogue)
    write_imagenet_classes(OUT / "imagenet_classes.json")
    by_source: dict[str, int] = {}
    for e in catalogue["tags"]:
        by_source[e["source"]] = by_source.get(e["source"], 0) + 1
    print(f"wrote {out}: {len(catalogue['tags'])} tags for {len(defaults)} presets ({by_source})")
    for line in skipped:
        print(f"  skipped {line}")
    return 0


# --- one preset -----------------------------------------------------------------------------------------------

def timm_arch(preset) -> str | None:
    """The timm architecture whose weights are this preset's: its own name, or the timm name it records when no
    other preset has that name (preactresnet18 -> resnetv2_18)."""
    if timm_models.get_arch_pretrained_cfgs(preset.name):
        return preset.name
    if preset.timm and preset.timm not in reslab.list_models() and timm_models.get_arch_pretrained_cfgs(preset.timm):
        return preset.timm
    return None


def entries_for(preset, tv_index: dict, top1_table: dict, kept_top1: dict, skipped: list) -> list[dict]:
    entries = []
    arch = timm_arch(preset)
    for full, cfg in (timm_models.get_arch_pretrained_cfgs(arch) if arch else {}).items():
        entry = timm_entry(preset.name, arch, cfg, tv_index, top1_table, kept_top1)
        if isinstance(entry, str):
            skipped.append(f"{full}: {entry}")
            continue
        problem = load_problem(preset.name, entry, tv_index)
        if problem:
            skipped.append(f"{entry['tag']}: {problem}")
            continue
        entries.append(entry)
    if preset.torchvision:
        have = {e["tag"] for e in entries}
        for weights in tv_models.get_model_weights(preset.torchvision):
            tag = f"{preset.name}.{TV_TAGS.get(weights.name, weights.name.lower())}"
            if tag in have:
                continue
            entry = torchvision_entry(preset.name, tag, preset.torchvision, weights)
            problem = load_problem(preset.name, entry, tv_index)
            if problem:
                skipped.append(f"{tag}: {problem}")
                continue
            entries.append(entry)
        if arch is None:  # torchvision's own default first, as timm's default is for timm's architectures
            default = f"{preset.name}.{TV_TAGS.get(tv_models.get_model_weights(preset.torchvision).DEFAULT.name)}"
            entries.sort(key=lambda e: e["tag"] != default)
    return entries


def timm_entry(preset: str, arch: str, cfg, tv_index: dict, top1_table: dict, kept_top1: dict) -> dict | str:
    tag = f"{preset}.{cfg.tag}"
    if not cfg.num_classes:
        return "a feature extractor without a classifier (num_classes 0)"
    if (cfg.url or "").startswith(TORCHVISION_HOST) and cfg.url in tv_index:
        tv_name, weights = tv_index[cfg.url]
        entry = torchvision_entry(preset, tag, tv_name, weights)
        entry["notes"] = join_notes(entry["notes"], f"timm names it {arch}.{cfg.tag}")
        return entry
    if cfg.hf_hub_id:
        repo = cfg.hf_hub_id if cfg.hf_hub_id != "timm/" else f"timm/{arch}.{cfg.tag}"
        where = {"hf_repo": repo, "hf_file": cfg.hf_hub_filename or "model.safetensors"}
        source = "hf"
    elif cfg.url:
        name = cfg.url.rsplit("/", 1)[-1]
        where = {"url": cfg.url, "file_name": name, **hash_prefix(name)}
        source = "url"
    else:
        return "timm publishes no file for it"
    entry = {"tag": tag, "preset": preset, "source": source, **where, "layout": "timm",
             "num_classes": cfg.num_classes, "classes": "imagenet-1k" if imagenet_1k(cfg) else None,
             "preprocessing": timm_preprocessing(cfg),
             **top1_of(f"{arch}.{cfg.tag}", top1_table, kept_top1.get(tag)),
             "params_m": None, "file_size_mb": None, "license": cfg.license, "origin_url": cfg.origin_url,
             "paper": cfg.paper_ids, "notes": ""}
    notes = []
    if arch != preset:
        notes.append(f"timm's {arch}.{cfg.tag}")
    if cfg.num_classes != 1000:
        notes.append(f"{cfg.num_classes} classes: a pretraining head, not ImageNet-1k's")
    if source == "url":
        notes.append("not on the Hugging Face hub: timm's release file")
    entry["notes"] = join_notes(*notes)
    return entry


def torchvision_entry(preset: str, tag: str, tv_name: str, weights) -> dict:
    name = weights.url.rsplit("/", 1)[-1]
    metrics = weights.meta.get("_metrics", {}).get("ImageNet-1K", {})
    return {"tag": tag, "preset": preset, "source": "torchvision", "url": weights.url, "file_name": name,
            **hash_prefix(name), "layout": "torchvision", "num_classes": len(weights.meta["categories"]),
            "classes": "imagenet-1k", "preprocessing": torchvision_preprocessing(weights),
            "top1": metrics.get("acc@1"), "top1_source": "torchvision", "params_m": None,
            "file_size_mb": weights.meta.get("_file_size"), "license": "bsd-3-clause",
            "origin_url": weights.meta.get("recipe"), "paper": None,
            "notes": f"torchvision's {tv_name} {type(weights).__name__}.{weights.name}"}


def hash_prefix(file_name: str) -> dict:
    """torch.hub's convention: 'name-<first hex digits of the sha256>.ext'."""
    stem = file_name.split(".")[0]
    digits = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    ok = len(digits) >= 8 and all(c in "0123456789abcdef" for c in digits)
    return {"sha256_prefix": digits if ok else None}


def timm_preprocessing(cfg) -> dict:
    pre = {"input_size": cfg.input_size[-1]}
    if cfg.test_input_size and cfg.test_input_size[-1] != pre["input_size"]:
        pre["test_input_size"] = cfg.test_input_size[-1]
    pre["crop_pct"] = cfg.crop_pct
    if cfg.test_crop_pct and cfg.test_crop_pct != cfg.crop_pct:
        pre["test_crop_pct"] = cfg.test_crop_pct
    pre.update(interpolation=cfg.interpolation, mean=list(cfg.mean), std=list(cfg.std))
    return pre


def torchvision_preprocessing(weights) -> dict:
    transform = weights.transforms()
    crop, resize = transform.crop_size[0], transform.resize_size[0]
    return {"input_size": crop, "crop_pct": round(crop / resize, 4), "interpolation": transform.interpolation.value,
            "mean": list(transform.mean), "std": list(transform.std)}


def imagenet_1k(cfg) -> bool:
    return cfg.num_classes == 1000


TOP1_KEYS = ("top1", "top1_input_size", "top1_crop_pct", "top1_source")


def top1_of(model_tag: str, table: dict, kept: dict | None = None) -> dict:
    """timm's published top-1 of `model_tag` (its architecture's name, a dot, the tag), or the one `kept`."""
    row = table.get(model_tag)
    if row is None and kept is not None:
        return {k: kept[k] for k in TOP1_KEYS if k in kept}
    if row is None:
        return {"top1": None, "top1_source": None}
    return {"top1": float(row["top1"]), "top1_input_size": int(row["img_size"]),
            "top1_crop_pct": float(row["crop_pct"]), "top1_source": "timm results-imagenet.csv"}


def join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


# --- checks on the meta device: every tensor of the weights fits the preset ------------------------------------------

@contextlib.contextmanager
def parameters_on_meta():
    """For builders that compute on tensors while building (torchvision's RegNets): parameters go to the meta
    device as they are registered, so even the 128-GF RegNet costs no memory."""
    register = nn.Module.register_parameter

    def on_meta(self, name, param):
        if param is not None:
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register(self, name, param)

    nn.Module.register_parameter = on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register


def empty(builder):
    try:
        with torch.device("meta"):
            return builder()
    except NotImplementedError:
        with parameters_on_meta(), torch.no_grad():
            return builder()


_ORACLE_STATES: dict = {}


def oracle_state(entry: dict, tv_index: dict) -> dict:
    if entry["source"] == "torchvision":
        tv_name = tv_index[entry["url"]][0]
        key = ("torchvision", tv_name, entry["num_classes"])
        build = lambda: tv_models.get_model(tv_name, num_classes=entry["num_classes"])  # noqa: E731
    else:
        arch = entry_arch(entry)
        key = ("timm", arch, entry["num_classes"])
        build = lambda: timm.create_model(arch, num_classes=entry["num_classes"])  # noqa: E731
    if key not in _ORACLE_STATES:
        _ORACLE_STATES[key] = empty(build).state_dict()
    return _ORACLE_STATES[key]


def entry_arch(entry: dict) -> str:
    repo = entry.get("hf_repo")
    if repo:
        return repo.split("/", 1)[1].split(".")[0]
    return timm_arch(reslab.get_preset(entry["preset"]))


def load_problem(preset: str, entry: dict, tv_index: dict) -> str | None:
    """None when the oracle's state dict loads into the preset (in the entry's layout), else why not."""
    state = oracle_state(entry, tv_index)
    with torch.device("meta"):
        model = reslab.create_model(preset, num_classes=entry["num_classes"])
    try:
        load_state(model, to_reslab_layout(model, dict(state), entry["layout"]), {}, entry["tag"])
    except WeightsError as e:
        return f"does not load: {str(e)[:160]}"
    with torch.device("meta"):
        entry["params_m"] = round(sum(p.numel() for p in model.parameters()) / 1e6, 2)
    return None


# --- inputs and outputs ---------------------------------------------------------------------------------------

def torchvision_index() -> dict:
    """Download address -> (torchvision model name, weights enum) for every classification model."""
    index = {}
    for name in tv_models.list_models(module=tv_models):
        for weights in tv_models.get_model_weights(name):
            index.setdefault(weights.url, (name, weights))
    return index


def read_results(where: str) -> dict:
    try:
        if "://" in where:
            with urllib.request.urlopen(where, timeout=30) as response:
                text = response.read().decode()
        else:
            text = Path(where).read_text()
    except OSError as e:
        print(f"warning: cannot read timm's results table ({e}); keeping the top-1 already in the catalogue",
              file=sys.stderr)
        return {}
    return {row["model"]: row for row in csv.DictReader(io.StringIO(text))}


def write_json_lines(path: Path, catalogue: dict) -> None:
    """JSON with one tag per line: readable, and a change to one tag is a one-line diff."""
    head = {k: v for k, v in catalogue.items() if k != "tags"}
    lines = ["{"] + [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()] + [' "tags": [']
    lines += [f"  {json.dumps(e)}{',' if i < len(catalogue['tags']) - 1 else ''}"
              for i, e in enumerate(catalogue["tags"])]
    lines += [" ]", "}"]
    text = "\n".join(lines) + "\n"
    json.loads(text)  # never write what cannot be read back
    path.write_text(text)


def write_imagenet_classes(path: Path) -> None:
    """ImageNet-1k's class names (torchvision's) and WordNet ids (timm's, the folder names of ImageNet's
    ImageFolder layout), both in class-index order."""
    from timm.data import ImageNetInfo

    names = tv_models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    wnids = ImageNetInfo().label_names()
    assert len(names) == len(wnids) == 1000
    data = {"source": f"names: torchvision {torchvision.__version__} ResNet50_Weights.IMAGENET1K_V1.meta"
                      f"['categories']; wnids: timm {timm.__version__} ImageNetInfo().label_names()",
            "names": list(names), "wnids": list(wnids)}
    path.write_text(json.dumps(data, indent=0) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
