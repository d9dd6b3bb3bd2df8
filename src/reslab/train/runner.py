"""The one training loop, for every kind of training: epochs of steps; a stop on request (a signal, or
--stop-after-steps) at an optimiser-step boundary that saves a checkpoint resuming exactly there, the epoch's
running tally included; the end of each epoch (its metrics, a checkpoint, a row of the log).

What differs between supervised training (train.engine) and self-supervised pre-training (selfsup.loop) is the
task: an object with the attributes and methods of `Task` below. The processes a run spans, the stop request and
the optimiser step are here too, shared by both."""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import torch

from . import distributed
from .device import pick_device
from .settings import ExecutionSettings


@dataclass
class Tally:
    """A process's running sums over the epoch so far: loss (per image or per batch, as the task adds it), correct
    answers, images and batches seen; saved at a stop, so a resumed epoch reports all its batches."""
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    batches: int = 0

    def as_list(self) -> list[float]:
        return [self.loss_sum, self.correct, self.seen, self.batches]


class Task(Protocol):
    """What `run_epochs` needs of a kind of training."""
    cfg: Any  # reads progress, accum_steps, stop_after_steps
    env: Any
    device: torch.device
    command: str  # the CLI command that resumes it: "train" or "pretrain"
    run_dir: Any
    epochs: int  # epochs the run spans
    total_steps: int  # forward passes of the whole run
    start_epoch: int  # where this call starts (after a resume, the first batch not yet trained on)
    start_step: int
    global_step: int
    resumed_tally: tuple  # the saved Tally of the epoch a mid-epoch resume starts in (empty: none)
    saved_epoch: int | None
    metrics: dict  # the last finished epoch's
    stop: "StopRequest"
    log: Any  # an EpochLog on the main process, else None

    def batches_in(self, epoch: int) -> int: ...
    def begin_epoch(self, epoch: int, first: int) -> Iterable: ...  # the loader, from batch `first` on
    def step(self, batch, epoch: int, i: int, tally: Tally) -> None: ...  # counts global_step
    def progress_text(self, tally: Tally) -> str: ...
    def end_epoch(self, epoch: int, tally: Tally) -> str: ...  # sets metrics; returns the epoch's line
    def save(self, epoch: int, step_in_epoch: int, tally: list | None) -> None: ...
    def say(self, *args) -> None: ...


class SampledEpochs:
    """`begin_epoch` for a task that reads its batches from `loader` in the order of a ShardedEpochSampler
    `sampler`, `rank_batch` images per batch, training `net`."""

    def begin_epoch(self, epoch: int, first: int):
        """The sampler at the epoch's first batch not yet trained on (mid-epoch after a resume), the net training."""
        self.sampler.set_epoch(epoch, start=first * self.rank_batch)
        self.net.train()
        return self.loader


def run_epochs(task: Task) -> tuple[int, str | None]:
    """Train from where `task` stands to its last epoch: (epochs done, None); or, stopped on request, (the epoch it
    stopped in, "signal" or "stop_after_steps") once a checkpoint that resumes at the next batch is saved."""
    from ..util.progress import ProgressBar

    for epoch in range(task.start_epoch, task.epochs):
        first = task.start_step if epoch == task.start_epoch else 0
        bar = ProgressBar(task.batches_in(epoch), f"epoch {epoch + 1}/{task.epochs}",
                          task.cfg.progress and task.env.is_main)
        tally = Tally(*task.resumed_tally) if first else Tally()
        for i, batch in enumerate(task.begin_epoch(epoch, first), start=first):
            if i >= task.batches_in(epoch):
                break
            task.step(batch, epoch, i, tally)
            bar.update(i + 1 - first, tally.seen, task.progress_text(tally))
            if _stop_requested(task, i):
                task.save(epoch, i + 1, distributed.all_sum(tally.as_list(), task.env, task.device))
                stopped = "signal" if task.stop.signum else "stop_after_steps"
                task.say(f"\nstopped at step {task.global_step} ({stopped}); checkpoint saved. Resume with: "
                         f"reslab {task.command} --resume {task.run_dir}")
                return epoch, stopped
        task.say(task.end_epoch(epoch, tally))
        task.save(epoch + 1, 0, None)
        task.saved_epoch = epoch + 1
        if task.log is not None:  # after the save: the log holds saved epochs only, and a resume never repeats one
            task.log.write(epoch + 1, task.metrics)
    return task.epochs, None


def _stop_requested(task: Task, i: int) -> bool:
    """At an optimiser-step boundary before the run's last step: a signal on any rank, or --stop-after-steps."""
    if (i + 1) % task.cfg.accum_steps or task.global_step >= task.total_steps:
        return False
    injected = task.cfg.stop_after_steps is not None and task.global_step >= task.cfg.stop_after_steps
    return task.stop.requested(task.env, task.device) or injected


def optimizer_step(model, optimizer, scaler, ema, clip_grad: float) -> None:
    """Unscale, clip, step (through the fp16 scaler when there is one), zero the gradients, update the EMA."""
    if scaler is not None:
        scaler.unscale_(optimizer)
    if clip_grad > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if ema is not None:
        ema.update(model)


@contextmanager
def processes(cfg: ExecutionSettings):
    """(env, device): this process's device and place among the ranks, seeded and made deterministic as asked;
    afterwards torch's global determinism is as it was and a process group this run created is shut down."""
    device = pick_device(cfg.device)
    env = distributed.init_from_env(device)
    if env.enabled and device.type == "cuda":
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    try:
        yield env, device
    finally:
        torch.use_deterministic_algorithms(was_deterministic)  # a library call leaves global state as it found it
        distributed.barrier(env)
        distributed.shutdown(env)


def silent(*args, **kwargs) -> None:
    """A `say` for the processes other than the first."""


class StopRequest:
    """SIGINT / SIGTERM ask the loop to stop after the current step (saving a resumable checkpoint)."""

    def __init__(self):
        self.signum = None
        self.previous = {}
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.signum = signum
        print(f"\nreceived {signal.Signals(signum).name}: stopping after this step", file=sys.stderr)

    def requested(self, env, device) -> bool:
        flag = 1.0 if self.signum else 0.0
        return distributed.all_sum([flag], env, device)[0] > 0

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
