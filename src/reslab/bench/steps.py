"""One benchmark step of a model: a forward pass (infer) or forward, loss, backward and SGD update (train)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .candidates import Candidate
from ..util.precision import autocast
from .settings import BenchSettings


def make_step(c: Candidate, mode: str, img_size: int, settings: BenchSettings, device: torch.device):
    """One benchmark step: a forward pass (infer) or forward, loss, backward and SGD update (train)."""
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    model = c.model.to(device, memory_format=memory_format).train(mode == "train")
    x = torch.randn(settings.batch_size, c.in_chans, img_size, img_size, device=device)
    x = x.contiguous(memory_format=memory_format)
    forward = torch.compile(model, mode=settings.compile_mode) if settings.compile else model

    if mode == "infer":
        def infer_step():
            with torch.no_grad(), autocast(device, settings.amp):
                forward(x)
        return infer_step

    y = torch.randint(0, c.num_classes, (settings.batch_size,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    # fp16 gradients underflow without loss scaling; the scaler's checks are part of a real fp16 step
    scaler = torch.amp.GradScaler(device.type, enabled=settings.amp == "fp16")

    def train_step():
        with autocast(device, settings.amp):
            loss = F.cross_entropy(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return train_step
