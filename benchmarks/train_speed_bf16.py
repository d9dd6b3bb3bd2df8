"""resnet20_cifar's training step (forward, backward, SGD; batch 128 of random tensors, compiled, channels-last) with
the model held in float32 or wholly in bfloat16 (weights, activations and optimiser: no autocast, no conversion per
step). Prints images/s, the precision and the threads.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_speed_bf16.py fp32
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_speed_bf16.py bf16
"""
from __future__ import annotations

import platform
import sys
import time

import torch
import torch.nn.functional as F

import reslab


def main(precision: str, warmup: int = 5, steps: int = 30, batch: int = 128) -> None:
    torch.manual_seed(0)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    model = reslab.create_model("resnet20_cifar", num_classes=10)
    model = model.to(memory_format=torch.channels_last, dtype=dtype).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, 32, 32, dtype=dtype).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    @torch.compile
    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x).float(), y).backward()
        opt.step()

    for _ in range(warmup):  # includes compilation
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    print(f"{precision}: {steps * batch / seconds:.0f} images/s ({torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fp32")
