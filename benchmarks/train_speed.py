"""CIFAR training speed: ResLab's training loop against the loop a user would write with torchvision, in one
process, on the same images and the same model.

Baseline: torchvision's ImageFolder + DataLoader (2 workers, pad-4 crop, flip, ToTensor, Normalize per image),
the model in fp32, SGD (momentum 0.9, weight decay 1e-4), batch 128. ResLab: `reslab.train`'s own setup and
`train_step` (the decoded-image cache, batch-level augmentation, and whatever precision / memory format /
compilation is asked). Both are timed over the same number of steps after warm-up steps (which include
torch.compile's compilation), and the images/s of each, their ratio and the machine are printed.

    .venv/bin/python benchmarks/train_speed.py --data ../shared/data/cifar10-jpeg --steps 60
    .venv/bin/python benchmarks/train_speed.py --data ../shared/data/cifar10-jpeg --amp bf16 --no-compile
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time

import torch


def baseline(data: str, model_name: str, steps: int, warmup: int, batch: int) -> float:
    """Images/s of the plain torchvision loop."""
    from torchvision import datasets, transforms

    import reslab
    from reslab.spec.preprocessing import CIFAR_MEAN, CIFAR_STD

    tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    loader = torch.utils.data.DataLoader(datasets.ImageFolder(f"{data}/train", tf), batch_size=batch, shuffle=True,
                                         num_workers=2, drop_last=True, persistent_workers=True)
    model = reslab.create_model(model_name, num_classes=10).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    return _timed(((x, y) for x, y in loader), lambda x, y: _sgd_step(model, opt, x, y), steps, warmup, batch)


def _sgd_step(model, opt, x, y) -> None:
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def reslab_loop(data: str, model_name: str, steps: int, warmup: int, batch: int, amp: str,
                channels_last: bool | None, compile_: bool | None) -> float:
    """Images/s of ResLab's training loop: the engine's setup and its task's batches and steps. None for
    compile / channels-last is what the plain `reslab train --data DIR` decides (the cifar recipe's 64,000 steps:
    compiled, channels-last)."""
    from reslab.train import engine, runner
    from reslab.train.config import from_recipe

    with tempfile.TemporaryDirectory() as out:
        cfg = from_recipe("cifar", model=model_name, data=data, batch_size=batch, amp=amp,
                          channels_last=channels_last, compile=compile_, output=out, tensorboard=False,
                          progress=False)
        with runner.processes(cfg) as (env, device):
            run = engine.setup(cfg, None, env, device, time.perf_counter())
            try:
                tally = runner.Tally()
                batches = enumerate(run.begin_epoch(0, 0))
                return _timed(batches, lambda i, b: run.step(b, 0, i, tally), steps, warmup, batch)
            finally:
                run.close()


def compute_limit(model_name: str, seconds: float = 3.0) -> tuple[float, float]:
    """(fp32 GFLOP/s this machine's matrix multiply reaches, the training images/s that rate would allow).

    A training step costs about 3x the forward pass's multiply-adds (forward, and backward for both the inputs and
    the weights), 2 FLOPs each; real convolutions of 16-64 channels reach less than a large matrix multiply, so
    the limit is an upper bound."""
    import reslab
    from reslab.complexity import spec_complexity

    _, macs = spec_complexity(reslab.get_spec(model_name))
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    gflops = n * 2 * 2048 ** 3 / (time.perf_counter() - t0) / 1e9
    return gflops, gflops * 1e9 / (3 * 2 * macs)


def _timed(items, step, steps: int, warmup: int, batch: int) -> float:
    it = iter(items)
    for _ in range(warmup):
        step(*next(it))
    t0 = time.perf_counter()
    for _ in range(steps):
        step(*next(it))
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data/cifar10-jpeg")
    p.add_argument("--model", default="resnet20_cifar")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--amp", default="off", choices=("off", "bf16"))
    # unset: as the plain `reslab train` command decides (train.engine.FAST_PATH_IMAGES)
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    args = p.parse_args()
    gflops, limit = compute_limit(args.model)
    base = baseline(args.data, args.model, args.steps, args.warmup, args.batch_size)
    ours = reslab_loop(args.data, args.model, args.steps, args.warmup, args.batch_size, args.amp,
                       args.channels_last, args.compile)
    result = {"model": args.model, "batch_size": args.batch_size, "steps": args.steps,
              "baseline_img_s": round(base, 1), "reslab_img_s": round(ours, 1), "ratio": round(ours / base, 2),
              "matmul_gflops": round(gflops, 1), "compute_limit_img_s": round(limit, 1),
              "reslab": {"amp": args.amp, "channels_last": args.channels_last, "compile": args.compile},
              "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
                         f"torch {torch.__version__}"}
    print(f"{args.model}, batch {args.batch_size}, {args.steps} timed steps on {result['machine']}")
    print(f"baseline (ImageFolder + DataLoader(2 workers), fp32, SGD): {base:8.1f} images/s")
    print(f"ResLab train (amp={args.amp}, channels_last={args.channels_last}, compile={args.compile}): "
          f"{ours:8.1f} images/s")
    print(f"ratio: {ours / base:.2f}x")
    print(f"compute limit: fp32 matrix multiply reaches {gflops:.0f} GFLOP/s here, which allows at most "
          f"{limit:.0f} training images/s of {args.model} (3 x forward multiply-adds, 2 FLOPs each)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
