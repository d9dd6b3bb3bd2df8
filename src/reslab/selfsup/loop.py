"""Self-supervised pre-training as the runner's task (train.runner: the loop, stop and exact resume, the epoch log):
the method's loss in place of the classifier's, the kNN monitor at each epoch's end. Labels are never read, except
by the kNN monitor on a labelled validation split."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import DataError
from ..errors import ReslabError
from ..util.table import format_table
from ..train import checkpoint, distributed
from ..util.precision import autocast
from ..train.engine import DIVERGED_HINT, TrainingDiverged
from ..train.optim import build_optimizer, param_groups
from ..train.epoch_log import EpochLog
from ..train.rundir import CONFIG, STATE, WEIGHTS, claim
from ..train.runner import SampledEpochs, StopRequest, Tally, optimizer_step, processes, run_epochs, silent
from ..train.schedule import LrSchedule
from .config import PretrainConfig, from_method, resume_config
from .learner import SelfSupervised

NEEDS_BATCH_STATS = ("nt_xent", "barlow")  # losses that compare the images of a batch with each other


@dataclass
class PretrainResult:
    run_dir: Path
    metrics: dict  # the last epoch's: train_loss, lr, knn_top1 (with a labelled validation split)
    epochs_done: int
    stopped: str | None = None
    wall_s: float = 0.0
    signum: int | None = None
    finished_before: bool = False


@dataclass(eq=False)
class PretrainRun(SampledEpochs):
    cfg: PretrainConfig
    env: Any
    device: torch.device
    run_dir: Path
    learner: SelfSupervised
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scaler: Any
    schedule: LrSchedule
    sampler: Any
    loader: Any
    rank_batch: int
    monitor: tuple | None  # (bank, queries) for the kNN monitor, or None
    metrics: dict
    stop: StopRequest
    log: EpochLog | None = None
    start_epoch: int = 0
    start_step: int = 0
    global_step: int = 0
    replacing: bool = False  # a new run in a folder whose run files it replaces at its first checkpoint
    resumed_tally: tuple = ()  # the runner's Tally of the epoch a mid-epoch resume starts in
    saved_epoch: int | None = None

    @property
    def steps_per_epoch(self) -> int:
        return whole_batches(self.sampler.per_rank, self.rank_batch, self.cfg.accum_steps)

    def say(self, *args) -> None:
        if self.env.is_main:
            print(*args)

    # --- the runner's Task (begin_epoch: SampledEpochs) ---
    command = "pretrain"

    @property
    def epochs(self) -> int:
        return self.cfg.epochs

    @property
    def total_steps(self) -> int:
        return self.cfg.epochs * self.steps_per_epoch

    def batches_in(self, epoch: int) -> int:
        return self.steps_per_epoch

    def step(self, batch, epoch: int, i: int, tally: Tally) -> None:
        _step(self, batch, epoch, i, tally)

    def progress_text(self, tally: Tally) -> str:
        return f"loss {tally.loss_sum / max(tally.batches, 1):.4f}"

    def end_epoch(self, epoch: int, tally: Tally) -> str:
        total = distributed.all_sum([tally.loss_sum, tally.batches], self.env, self.device)
        self.metrics = {"train_loss": total[0] / max(total[1], 1), "lr": self.schedule.lr_at(self.global_step - 1),
                        **_monitor(self)}
        return (f"epoch {epoch + 1}: loss {self.metrics['train_loss']:.4f}"
                + (f", kNN top-1 {self.metrics['knn_top1']:.2%}" if "knn_top1" in self.metrics else ""))

    def save(self, epoch: int, step_in_epoch: int, tally: list | None) -> None:
        _save(self, epoch, step_in_epoch, tally)


def whole_batches(per_rank: int, rank_batch: int, accum: int) -> int:
    """Parts a process trains on per epoch: whole optimiser steps only (a multiple of accum)."""
    return per_rank // rank_batch // accum * accum


def pretrain(config: PretrainConfig | dict | None = None, **overrides) -> PretrainResult:
    """Pre-train as `config` says (a PretrainConfig, a dict of its fields, or keyword arguments); a `resume`
    continues a run with its saved settings (only --epochs and the run controls may change)."""
    cfg = _resolve(config, overrides)
    t0 = time.perf_counter()
    state = checkpoint.load_state(Path(cfg.output)) if cfg.resume else None
    if state is not None and state["epoch"] >= cfg.epochs:
        print(f"{cfg.output} has already finished its {state['epoch']} epochs; to train longer, resume with a "
              f"larger --epochs")
        return PretrainResult(Path(cfg.output), dict(state["best"]), state["epoch"], finished_before=True)
    with processes(cfg) as (env, device):
        run = _setup(cfg, state, env, device)
        try:
            epochs_done, stopped = run_epochs(run)
            if stopped:
                return PretrainResult(run.run_dir, run.metrics, epochs_done, stopped, time.perf_counter() - t0,
                                      run.stop.signum)
            if env.is_main:
                print(format_table(["summary", "value"], [[k, f"{v:.4f}"] for k, v in run.metrics.items()]
                                   + [["epochs", cfg.epochs], ["backbone weights", run.run_dir / WEIGHTS]]))
            return PretrainResult(run.run_dir, run.metrics, cfg.epochs, wall_s=time.perf_counter() - t0)
        finally:
            run.stop.restore()
            if run.log is not None:
                run.log.close()


def _step(run: PretrainRun, batch, epoch: int, i: int, tally: Tally) -> None:
    run.schedule.set(run.global_step)
    run.learner.progress = run.global_step / (run.cfg.epochs * run.steps_per_epoch)
    accum = run.cfg.accum_steps
    with autocast(run.device, run.cfg.amp):
        loss = run.net(batch.images.to(run.device, non_blocking=True), update_target=i % accum == 0).float()
    value = loss.item()
    if not math.isfinite(value):
        raise TrainingDiverged(f"loss became {value} at step {run.global_step + 1} (epoch {epoch + 1}, batch "
                               f"{i + 1}). {DIVERGED_HINT}")
    (run.scaler.scale(loss) if run.scaler else loss).div(accum).backward()
    if (i + 1) % accum == 0:
        optimizer_step(run.learner, run.optimizer, run.scaler, None, 0.0)
    run.global_step += 1
    tally.loss_sum += value
    tally.batches += 1
    tally.seen += run.rank_batch


def _monitor(run: PretrainRun) -> dict:
    """kNN top-1 of the backbone on the labelled validation split, on the first process."""
    if run.monitor is None or not run.env.is_main:
        return {}
    from .knn import knn_top1

    bank, queries = run.monitor
    result = knn_top1(run.learner.backbone, bank, queries, run.device, k=run.cfg.knn_k, t=run.cfg.knn_t,
                      batch_size=2 * run.rank_batch, workers=run.cfg.workers)
    return {"knn_top1": result.top1}


def _setup(cfg: PretrainConfig, state: dict | None, env, device: torch.device) -> PretrainRun:
    from ..factory import create_model

    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.spec.items()}
    if cfg.img_size:
        overrides["input_size"] = cfg.img_size
    backbone = create_model(cfg.model, **overrides)
    rank_batch = cfg.batch_size // env.world // cfg.accum_steps
    check_combination(cfg, backbone, rank_batch)  # before any data is read
    train_set, val_set = _open_data(cfg, env)
    backbone.get_classifier().requires_grad_(False)  # the head is not pre-trained: fine-tuning or a probe trains it
    learner = SelfSupervised(backbone, cfg).to(device)
    if cfg.channels_last:
        learner = learner.to(memory_format=torch.channels_last)
    if cfg.compile:
        for network in (learner.online, learner.target, learner.predictor):
            if network is not None:
                network.compile()
    base_lr = cfg.lr * cfg.batch_size / cfg.lr_batch
    optimizer = build_optimizer(param_groups(learner, cfg.weight_decay, cfg.no_decay_norm_bias), cfg, base_lr)
    scaler = torch.amp.GradScaler(device.type) if cfg.amp == "fp16" else None
    net = distributed.wrap(learner, env, device, sync_bn=cfg.cross_process_bn == "global")
    sampler, loader = _make_loader(cfg, env, train_set, backbone.preprocessing, rank_batch)
    schedule = LrSchedule(optimizer, cfg, base_lr, whole_batches(sampler.per_rank, rank_batch, cfg.accum_steps))
    monitor = (train_set, val_set) if val_set is not None and train_set.classes != ["(unlabelled)"] else None
    run = PretrainRun(cfg, env, device, Path(cfg.output), learner, net, optimizer, scaler, schedule, sampler, loader,
                      rank_batch, monitor, dict(state["best"]) if state else {}, StopRequest())
    if state is not None:
        learner.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state["scaler"] is not None:
            scaler.load_state_dict(state["scaler"])
        checkpoint.set_rng_state(state["rng"])
        run.start_epoch, run.start_step, run.global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        if run.start_step and env.is_main:  # the other ranks' share is in rank 0's sum
            run.resumed_tally = tuple(state.get("tally") or ())
        run.say(f"resuming {run.run_dir} at epoch {run.start_epoch + 1}, step {run.start_step}")
    elif env.is_main:
        run.replacing = _start_run_dir(run.run_dir, cfg)
    run.log = EpochLog(run.run_dir, cfg.tensorboard, fresh=state is None, saved=run.metrics if state else None,
                       saved_epoch=state["epoch"] if state else None, say=run.say) if env.is_main else None
    run.say(f"pre-training {cfg.model} with {cfg.method} on {cfg.data or 'digits'}: {len(train_set)} images, "
            f"{cfg.epochs} epochs, batch {cfg.batch_size}, lr {base_lr:g}, {env.world} process(es) on {device}"
            + ("" if monitor else "; no labelled val/ split, so no kNN monitor"))
    return run


def check_combination(cfg: PretrainConfig, backbone, rank_batch: int) -> None:
    """A method and a model (and a batch) that cannot work together, said before any step."""
    if backbone.preprocessing.audio is not None:
        raise ReslabError(f"{cfg.model} takes audio clips, but self-supervised pre-training makes image views (crops, "
                          f"colour, blur) of images: pre-train an image model, or train {cfg.model} with reslab "
                          "train on a folder of <class>/<clip>.wav")
    chans = backbone.spec.in_chans
    if chans != 3 and (cfg.color_jitter * cfg.jitter_p > 0 or cfg.gray_p > 0):
        raise ReslabError(f"{cfg.method}'s views jitter colour and turn images grayscale, which needs RGB images, "
                          f"but {cfg.model} takes {chans} channel(s); give --color-jitter 0 --gray-p 0 or a 3-channel "
                          f"model")
    if rank_batch < 2 and (cfg.proj_bn or cfg.pred_hidden or cfg.loss in NEEDS_BATCH_STATS):
        raise ReslabError(f"{cfg.method} needs at least 2 images per process and step (its heads' BatchNorm and its "
                          f"loss use batch statistics); --batch-size {cfg.batch_size} gives {rank_batch}"
                          + (f" with --accum-steps {cfg.accum_steps}" if cfg.accum_steps > 1 else ""))
    keys = cfg.batch_size // cfg.accum_steps  # every forward's keys, over all processes
    if cfg.queue_size and cfg.queue_size % keys:
        what = f"--batch-size {cfg.batch_size}" + (f" / --accum-steps {cfg.accum_steps}" * (cfg.accum_steps > 1))
        raise ReslabError(f"--queue-size {cfg.queue_size} must be a multiple of {what} (each step's keys replace the "
                          f"oldest whole batch)")


def _open_data(cfg: PretrainConfig, env) -> tuple[Any, Any]:
    from ..data import ClassBalancedSubset, is_audio
    from ..data.unlabelled import open_images

    splits = open_images(cfg.data, decode=cfg.cache == "auto", say=print if env.is_main else silent,
                         progress=cfg.progress and env.is_main)
    train_set, val_set = splits["train"], splits["val"]
    if is_audio(train_set):
        raise DataError(f"{cfg.data} holds audio clips, but self-supervised pre-training makes image views (crops, "
                        "colour, blur) of images: give a folder of images, or train on the clips with reslab train")
    if cfg.subset is not None and cfg.subset > len(train_set):
        raise DataError(f"--subset {cfg.subset} is more than the {len(train_set)} images there")
    if cfg.subset:
        train_set = ClassBalancedSubset(train_set, cfg.subset, seed=cfg.seed)
    if val_set is not None and cfg.val_subset:
        val_set = ClassBalancedSubset(val_set, min(cfg.val_subset, len(val_set)), seed=0)
    if cfg.batch_size % (env.world * cfg.accum_steps):
        raise ReslabError(f"batch size {cfg.batch_size} must split evenly over {env.world} process(es) x "
                          f"{cfg.accum_steps} accumulation step(s)")
    if len(train_set) < cfg.batch_size:
        raise DataError(f"{len(train_set)} images are fewer than one batch of {cfg.batch_size}; give a smaller "
                        f"--batch-size")
    if cfg.queue_size > len(train_set):
        raise DataError(f"--queue-size {cfg.queue_size} is more than the {len(train_set)} images: the queue would "
                        f"hold older keys of the very images it contrasts as negatives; give at most "
                        f"{len(train_set) - len(train_set) % cfg.batch_size}")
    return train_set, val_set


def _make_loader(cfg: PretrainConfig, env, train_set, pre, rank_batch: int):
    from ..data import Augmented, ShardedEpochSampler, default_workers, is_in_memory, make_loader
    from ..data.views import Views
    from .views import view_transform

    size = cfg.img_size or pre.input_size
    sampler = ShardedEpochSampler(len(train_set), seed=cfg.seed, rank=env.rank, world=env.world)
    workers = default_workers(is_in_memory(train_set)) if cfg.workers is None else cfg.workers
    views = Views(view_transform(cfg, pre, size, 0), view_transform(cfg, pre, size, 1))
    return sampler, make_loader(Augmented(train_set, views, cfg.seed), rank_batch, sampler, workers, drop_last=True)


def _save(run: PretrainRun, epoch: int, step_in_epoch: int, tally: list | None = None) -> None:
    """The backbone's weights (loadable alone, for fine-tuning) and the whole state, written together."""
    if not run.env.is_main:
        return
    from ..util.files import write_bytes, write_together
    from ..weights import save_weights

    state = {"model": run.learner.state_dict(), "optimizer": run.optimizer.state_dict(),
             "scaler": run.scaler.state_dict() if run.scaler is not None else None, "ema": None,
             "rng": checkpoint.rng_state(), "epoch": epoch, "step_in_epoch": step_in_epoch,
             "global_step": run.global_step, "epochs": run.cfg.epochs, "best": run.metrics, "tally": tally}
    settings = {run.run_dir / CONFIG: lambda tmp: run.cfg.save(Path(tmp))} if run.replacing else {}
    run.replacing = False
    write_together({**settings,
        run.run_dir / WEIGHTS: lambda tmp: save_weights(run.learner.backbone, tmp, epoch=epoch,
                                                       selfsup=run.cfg.method),
        run.run_dir / STATE: lambda tmp: write_bytes(tmp, checkpoint.encode_state(state))})


def _start_run_dir(run_dir: Path, cfg: PretrainConfig) -> bool:
    """As the training engine's: a folder holding anything is refused unless --overwrite, and a replacing run
    writes its settings with its first checkpoint; return whether it replaces."""
    replacing = claim(run_dir, cfg.overwrite)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not replacing:
        cfg.save(run_dir / CONFIG)
    return replacing


def _resolve(config, overrides) -> PretrainConfig:
    given = {**(config if isinstance(config, dict) else {}), **overrides}
    if isinstance(config, PretrainConfig):
        return resume_config({"resume": config.resume}) if config.resume else config
    if given.get("resume"):
        return resume_config(given)
    return from_method(given.pop("method", "simclr"), **given)
