"""Speaker-independent FSDD: train on five speakers, score the sixth (every clip of theirs), for each speaker.

The speaker is in each file name (`<digit>_<speaker>_<index>.wav`). For a held-out speaker the script makes a folder
of symbolic links under OUTPUT/splits/<speaker> (train/ = the other speakers' training clips, val/ = every clip of
the held-out speaker, from train/ and val/), trains there with `reslab.train` (the recipe of RESULTS.md's FSDD
table), and appends the speaker's validation top-1 and training time to OUTPUT/loso.json. A finished speaker is
skipped, a stopped one resumed, so the script can be run again until every speaker is done; it prints the table.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fsdd_loso.py --data ../shared/data/fsdd --output runs/loso
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

RECIPE = dict(epochs=8, batch_size=64, optimizer="adamw", lr=0.003, lr_batch=64, weight_decay=0.05,
              schedule="cosine", warmup_epochs=0.5, workers=0, progress=False, tensorboard=False)


def speaker_of(clip: Path) -> str:
    return clip.stem.split("_")[1]


def make_split(data: Path, out: Path, held_out: str) -> Path:
    """train/ = the other speakers' training clips, val/ = all of `held_out`'s clips; links, not copies."""
    for clip in sorted(data.glob("*/*/*.wav")):
        split = "val" if speaker_of(clip) == held_out else "train" if clip.parts[-3] == "train" else None
        if split is None:
            continue
        link = out / split / clip.parent.name / clip.name
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(clip.resolve(), link)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/fsdd")
    parser.add_argument("--output", default="runs/loso")
    parser.add_argument("--model", default="resnet_crnn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speakers", default=None, help="comma-separated; default: every speaker in train/")
    args = parser.parse_args()

    from reslab.train import train

    data, out = Path(args.data), Path(args.output)
    found = sorted({speaker_of(c) for c in data.glob("train/*/*.wav")})
    speakers = args.speakers.split(",") if args.speakers else found
    results_file = out / "loso.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for speaker in speakers:
        key = f"{args.model}/{speaker}/seed{args.seed}"
        if key in results:
            continue
        split = make_split(data, out / "splits" / speaker, speaker)
        run = out / "runs" / key
        resume = (run / "state.safetensors").exists()
        options = dict(resume=str(run)) if resume else dict(model=args.model, data=str(split), output=str(run),
                                                              seed=args.seed, **RECIPE)
        result = train(**options)
        if result.stopped:
            return
        n_train, n_val = (len(list(split.glob(f"{s}/*/*.wav"))) for s in ("train", "val"))
        results[key] = {"top1": round(100 * result.metrics["val_top1"], 2), "train_clips": n_train,
                        "val_clips": n_val, "wall_s": round(result.wall_s)}
        tmp = results_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(results_file)
        print(key, results[key], flush=True)
    print_table({k: v for k, v in results.items() if k.startswith(f"{args.model}/")})


def print_table(results: dict) -> None:
    """One row per held-out speaker (top-1 of each seed and their mean), then the mean over speakers."""
    by_speaker: dict[str, list[dict]] = {}
    for key, value in sorted(results.items()):
        by_speaker.setdefault(key.split("/")[1], []).append(value)
    print("| held-out speaker | train clips | val clips | val top-1 % per seed | mean | train time per run (s) |\n"
          "|---|---:|---:|---|---:|---:|")
    means = []
    for speaker, runs in by_speaker.items():
        top1 = [r["top1"] for r in runs]
        means.append(statistics.mean(top1))
        print(f"| {speaker} | {runs[0]['train_clips']:,} | {runs[0]['val_clips']} | "
              f"{', '.join(f'{t:.2f}' for t in top1)} | {means[-1]:.2f} | "
              f"{statistics.mean(r['wall_s'] for r in runs):.0f} |")
    if len(means) > 1:
        print(f"| mean ± std over {len(means)} speakers | | | | **{statistics.mean(means):.2f} ± "
              f"{statistics.stdev(means):.2f}** | |")

if __name__ == "__main__":
    main()
