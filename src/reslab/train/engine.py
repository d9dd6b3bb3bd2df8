"""The training loop, top to bottom: data, model, optimiser, then epochs of steps, evaluation and checkpoints."""
from __future__ import annotations

import errno
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ReslabError
from ..factory import create_model
from ..table import format_table
from . import checkpoint, distributed
from .device import autocast, pick_device
from .evaluate import evaluate
from .config import TrainConfig, from_recipe
from .ema import WeightEma
from .optim import build_optimizer, param_groups
from .progress import EpochLog, ProgressBar
from .schedule import LrSchedule


class TrainingDiverged(ReslabError, FloatingPointError):
    pass


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict  # last epoch's: train_loss, val_top1, val_top5, val_loss (+ ema_val_*)
    epochs_done: int
    stopped: str | None = None  # "signal" or "stop_after_steps" when the run was interrupted resumably
    unreadable: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    signum: int | None = None  # the signal that stopped the run (SIGINT, SIGTERM)
    skipped_batches: int = 0  # training batches whose images were all unreadable
    finished_before: bool = False  # a resume of a run that had already done all its epochs


def soft_target_loss(logits: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    """Cross-entropy against soft targets, or per-class binary cross-entropy (ResNet strikes back, Sec. 3)."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, targets)
    return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()


def build_model(cfg: TrainConfig, num_classes: int):
    from ..finetune import freeze, freeze_bn
    from ..registry import get_preset

    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.spec.items()}
    overrides |= {k: getattr(cfg, k) for k in ("drop_path_rate", "drop_rate", "zero_init_last")
                 if getattr(cfg, k) is not None}
    if cfg.depth_scaled_regularisation:
        # ResNet-RS (Bello et al. 2021, Table 8 / App. C): dropout 0.25, stochastic depth only from ResNet-200 up
        overrides.setdefault("drop_rate", 0.25)
        overrides.setdefault("drop_path_rate", 0.1 if sum(get_preset(cfg.model).spec.depths) >= 66 else 0.0)
    if cfg.img_size:
        overrides["input_size"] = cfg.img_size
    model = create_model(cfg.model, num_classes=num_classes, weights=cfg.weights, **overrides)
    if cfg.freeze:
        freeze(model, names=list(cfg.freeze))
    if cfg.freeze_bn:
        freeze_bn(model)
    return model


def train(config: TrainConfig | dict | None = None, **overrides) -> TrainResult:
    """Train as `config` says (a TrainConfig, a dict of its fields, or None for the default job).

    To resume, set `resume` to a run directory: given as a dict (or keyword arguments), its --epochs and run
    controls apply and other differing settings are refused; given as a TrainConfig, the saved settings win."""
    from ..data import (Augmented, ClassBalancedSubset, DataError, ShardedEpochSampler, UnreadableImages,
                        default_workers, is_in_memory, make_loader, open_splits)
    from ..data.mixing import BatchMixer
    from ..data.transforms import eval_transform, train_transform

    cfg = _resolve(config, overrides)
    t0 = time.perf_counter()
    run_dir = Path(cfg.output)
    state = checkpoint.load_state(run_dir) if cfg.resume else None
    if state is not None and state["epoch"] >= cfg.epochs:
        return _already_finished(run_dir, state, t0)
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
    say = print if env.is_main else (lambda *a, **k: None)

    try:
        # --- data: every problem is found here, before a single step
        splits = open_splits(cfg.data)
        train_set, val_set = splits["train"], splits["val"]
        classes = train_set.classes
        if cfg.num_classes is not None and cfg.num_classes != len(classes):
            raise DataError(f"--num-classes {cfg.num_classes} does not match the {len(classes)} classes of "
                            f"{cfg.data or 'digits'}: the classifier needs one output per class; leave "
                            f"--num-classes out to use {len(classes)}")
        for name, n, available in (("subset", cfg.subset, train_set), ("val-subset", cfg.val_subset, val_set)):
            if n is not None and n > len(available):
                raise DataError(f"--{name} {n} is more than the {len(available)} images there; give at most "
                                f"{len(available)} (or leave it out for all)")
        if cfg.subset:
            train_set = ClassBalancedSubset(train_set, cfg.subset, seed=cfg.seed)
        if cfg.val_subset:
            val_set = ClassBalancedSubset(val_set, cfg.val_subset, seed=0)
        if cfg.batch_size % (env.world * cfg.accum_steps):
            raise ReslabError(f"batch size {cfg.batch_size} must split evenly over {env.world} process(es) x "
                              f"{cfg.accum_steps} accumulation step(s)")
        rank_batch = cfg.batch_size // env.world // cfg.accum_steps
        if len(train_set) < cfg.batch_size:
            raise DataError(f"{len(train_set)} training images are fewer than one batch of {cfg.batch_size}")

        # --- model, optimiser, schedule
        model = build_model(cfg, len(classes)).to(device)
        pre = model.preprocessing
        train_size = cfg.img_size or pre.input_size
        test_size = cfg.test_size or pre.input_size
        if cfg.test_crop_pct:
            pre = type(pre)(**{**pre.__dict__, "crop_pct": cfg.test_crop_pct})
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if cfg.layer_decay is not None or cfg.head_lr is not None:
            from ..finetune import layer_decay_param_groups

            groups = layer_decay_param_groups(model, cfg.weight_decay, cfg.layer_decay or 1.0, cfg.head_lr or 1.0)
        else:
            groups = param_groups(model, cfg.weight_decay, cfg.no_decay_norm_bias)
        base_lr = cfg.lr * cfg.batch_size / cfg.lr_batch  # linear scaling with the global batch
        optimizer = build_optimizer(groups, cfg, base_lr)
        ema = WeightEma(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
        scaler = torch.amp.GradScaler(device.type) if cfg.amp == "fp16" else None
        net = distributed.wrap(model, env, device, cfg.sync_bn)

        sampler = ShardedEpochSampler(len(train_set), seed=cfg.seed, rank=env.rank, world=env.world,
                                      repeats=cfg.repeated_aug)
        workers = default_workers(is_in_memory(train_set)) if cfg.workers is None else cfg.workers
        train_loader = make_loader(Augmented(train_set, train_transform(cfg, pre, train_size), cfg.seed),
                                   rank_batch, sampler, workers, drop_last=True)
        val_sampler = ShardedEpochSampler(len(val_set), seed=0, rank=env.rank, world=env.world, shuffle=False)
        val_loader = make_loader(Augmented(val_set, eval_transform(pre, test_size), 0), 2 * rank_batch,
                                 val_sampler, workers, drop_last=False)
        steps_per_epoch = sampler.per_rank // rank_batch
        schedule = LrSchedule(optimizer, cfg, base_lr, steps_per_epoch)
        mixer = BatchMixer(len(classes), cfg.mixup, cfg.cutmix, cfg.label_smoothing)

        def forward_loss(images, targets):  # one graph for torch.compile: no .item(), no Python branches on data
            with autocast(device, cfg.amp):
                logits = net(images)
            return soft_target_loss(logits.float(), targets, cfg.loss), logits

        step_fn = torch.compile(forward_loss) if cfg.compile else forward_loss

        start_epoch, start_step, global_step, saved_epoch = 0, 0, 0, None
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if scaler is not None and state["scaler"] is not None:
                scaler.load_state_dict(state["scaler"])
            if ema is not None and state["ema"] is not None:
                ema.load_state_dict(state["ema"])
            checkpoint.set_rng_state(state["rng"])
            start_epoch, start_step, global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
            saved_epoch = start_epoch
            longer = f" (now {cfg.epochs} epochs, was {state['epochs']})" if cfg.epochs != state["epochs"] else ""
            say(f"resuming {run_dir} at epoch {start_epoch + 1}, step {start_step}{longer}")
        elif env.is_main:
            _start_run_dir(run_dir, cfg)
        log = EpochLog(run_dir, cfg.tensorboard) if env.is_main else None
        say(f"training {cfg.model} ({cfg.recipe} recipe) on {cfg.data or 'digits'}: {len(train_set)} images, "
            f"{len(classes)} classes, {cfg.epochs} epochs, batch {cfg.batch_size}, lr {base_lr:g}, {env.world} "
            f"process(es) on {device}")

        stop = _StopRequest()
        unreadable = UnreadableImages()
        metrics: dict = dict(state["best"]) if state is not None else {}
        skipped = 0
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format

        def save(epoch, step_in_epoch):
            if env.is_main:
                checkpoint.save(run_dir, model, optimizer=optimizer, scaler=scaler, ema=ema, epoch=epoch,
                                step_in_epoch=step_in_epoch, global_step=global_step, epochs=cfg.epochs,
                                classes=classes, best=metrics)

        def finish(epochs_done, stopped=None):
            result = TrainResult(run_dir, metrics, epochs_done, stopped, sorted(unreadable.paths), signum=stop.signum,
                                 skipped_batches=skipped)
            return _finish(result, t0, env)

        try:
            for epoch in range(start_epoch, cfg.epochs):
                first = start_step if epoch == start_epoch else 0
                sampler.set_epoch(epoch, start=first * rank_batch)
                net.train()
                bar = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}", cfg.progress and env.is_main)
                loss_sum, correct, seen = 0.0, 0, 0
                for i, batch in enumerate(train_loader, start=first):
                    if i >= steps_per_epoch:
                        break
                    unreadable.note(batch)
                    schedule.set(global_step)
                    if len(batch.labels) == 0:  # every image of the batch was unreadable: nothing to learn from
                        skipped += 1
                    else:
                        with torch.random.fork_rng(devices=[]):  # mixing draws depend on (seed, step) only
                            torch.manual_seed(hash((cfg.seed, epoch, i, env.rank)) % 2**63)
                            images, targets = mixer(batch.images, batch.labels)
                        images = images.to(device, memory_format=fmt, non_blocking=True)
                        loss, logits = step_fn(images, targets.to(device, non_blocking=True))
                        loss_value = loss.item()
                        if not math.isfinite(loss_value):
                            raise TrainingDiverged(
                                f"loss became {loss_value} at step {global_step + 1} (epoch {epoch + 1}, batch "
                                f"{i + 1}); {_kept(run_dir, saved_epoch)}. {DIVERGED_HINT}")
                        (scaler.scale(loss) if scaler else loss).div(cfg.accum_steps).backward()
                        loss_sum += loss_value * len(batch.labels)
                        correct += (logits.argmax(1).cpu() == batch.labels).sum().item()
                        seen += len(batch.labels)
                    if (i + 1) % cfg.accum_steps == 0:
                        _optimizer_step(model, optimizer, scaler, ema, cfg.clip_grad)
                    global_step += 1
                    bar.update(i + 1 - first, seen, loss_sum / max(seen, 1), correct / max(seen, 1))
                    at_boundary = (i + 1) % cfg.accum_steps == 0
                    injected = cfg.stop_after_steps is not None and global_step >= cfg.stop_after_steps
                    if at_boundary and (stop.requested(env, device) or injected):
                        _check_finite(model, ema, f"step {global_step}", run_dir, saved_epoch)
                        save(epoch, i + 1)
                        stopped = "signal" if stop.signum else "stop_after_steps"
                        say(f"\nstopped at step {global_step} ({stopped}); checkpoint saved. Resume with: "
                            f"reslab train --resume {run_dir}")
                        return finish(epoch, stopped)

                train_stats = distributed.all_sum([loss_sum, correct, seen], env, device)
                reduce = (lambda t: torch.tensor(distributed.all_sum(t.flatten().tolist(), env, device),
                                                 dtype=t.dtype).view_as(t)) if env.enabled else None
                result = evaluate(model, val_loader, classes, device, amp=cfg.amp,
                                  channels_last=cfg.channels_last, reduce=reduce)
                unreadable.paths.update(result.unreadable)
                metrics = {"train_loss": train_stats[0] / max(train_stats[2], 1),
                           "train_acc": train_stats[1] / max(train_stats[2], 1), "val_top1": result.top1,
                           "val_top5": result.top5, "val_loss": result.loss, "lr": schedule.lr_at(global_step - 1)}
                if ema is not None:
                    ema_result = evaluate(ema.model, val_loader, classes, device, amp=cfg.amp, reduce=reduce)
                    metrics.update(ema_val_top1=ema_result.top1, ema_val_top5=ema_result.top5)
                _check_finite(model, ema, f"epoch {epoch + 1}", run_dir, saved_epoch, val_loss=result.loss)
                say(f"epoch {epoch + 1}: train loss {metrics['train_loss']:.4f}, val top-1 {result.top1:.2%}, "
                    f"top-5 {result.top5:.2%}" + (f", EMA top-1 {metrics['ema_val_top1']:.2%}" if ema else "")
                    + (f", {len(result.unreadable)} unreadable validation images skipped" if result.unreadable
                       else ""))
                save(epoch + 1, 0)
                saved_epoch = epoch + 1
                if log is not None:  # after the save: the log holds saved epochs only, and a resume never repeats one
                    log.write(epoch + 1, metrics)
                start_step = 0
            return finish(cfg.epochs)
        finally:
            stop.restore()
            if log is not None:
                log.close()
    finally:
        torch.use_deterministic_algorithms(was_deterministic)  # a library call leaves global state as it found it
        distributed.barrier(env)
        distributed.shutdown(env)


DIVERGED_HINT = ("Usual causes: a learning rate too high (try a smaller --lr or a longer --warmup-epochs) or fp16 "
                 "overflow (try --amp bf16 or off)")


def _optimizer_step(model, optimizer, scaler, ema, clip_grad: float) -> None:
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


def _kept(run_dir: Path, saved_epoch: int | None) -> str:
    if saved_epoch is None:
        return f"no checkpoint was saved in {run_dir}"
    return f"the last good checkpoint (epoch {saved_epoch}) is kept in {run_dir}"


def _check_finite(model, ema, where: str, run_dir: Path, saved_epoch: int | None,
                  val_loss: float | None = None) -> None:
    """Never save non-finite weights (or weights whose validation loss is not finite) as the last checkpoint."""
    nets = [model] + ([ema.model] if ema is not None else [])
    bad = [name for net in nets for name, t in net.state_dict().items()
           if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad or (val_loss is not None and not math.isfinite(val_loss)):
        what = f"weights became non-finite ({bad[0]}{' ...' if len(bad) > 1 else ''})" if bad else \
            f"validation loss became {val_loss}"
        raise TrainingDiverged(f"{what} at {where}; {_kept(run_dir, saved_epoch)}. {DIVERGED_HINT}")


def _start_run_dir(run_dir: Path, cfg: TrainConfig) -> None:
    """A fresh run: the folder must be one we can write to; an old run's log there starts afresh."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ReslabError(f"--output {run_dir} is a file, not a folder; give a folder for the run")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "metrics.csv").unlink(missing_ok=True)
        cfg.save(run_dir / "config.json")
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST):
            raise
        reason = (e.strerror or str(e)).lower()
        raise ReslabError(f"cannot write the run to --output {run_dir} ({reason}); choose a folder you can write "
                          f"to") from None


def _already_finished(run_dir: Path, state: dict, t0: float) -> TrainResult:
    top1 = state["best"].get("val_top1", float("nan"))
    print(f"{run_dir} has already finished its {state['epoch']} epochs (validation accuracy {top1:.2%}); "
          f"to train longer, resume with a larger --epochs")
    return TrainResult(run_dir, dict(state["best"]), state["epoch"], wall_s=time.perf_counter() - t0,
                       finished_before=True)


def _resolve(config, overrides) -> TrainConfig:
    from .config import RUN_CONTROLS, default_job, resume_config

    if config is None and not overrides:
        return default_job()
    given = {**(config if isinstance(config, dict) else {}), **overrides}
    if given.get("resume"):
        return resume_config(given)
    if config is None:
        return from_recipe(given.pop("recipe", "cifar"), **given)
    if isinstance(config, dict):
        return TrainConfig.from_dict(given)
    if config.resume:  # a whole TrainConfig: its recipe values are defaults, not changes; the saved run's win
        controls = {k: getattr(config, k) for k in RUN_CONTROLS if k != "tensorboard"}
        return resume_config({"resume": config.resume, **controls})
    return config


def _finish(result: TrainResult, t0: float, env) -> TrainResult:
    result.wall_s = time.perf_counter() - t0
    if env.is_main and result.stopped is None:
        rows = [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in result.metrics.items()]
        rows += [["epochs", result.epochs_done], ["unreadable images skipped", len(result.unreadable)],
                 ["batches skipped (all images unreadable)", result.skipped_batches],
                 ["wall time (s)", f"{result.wall_s:.1f}"]]
        print(format_table(["summary", "value"], rows))
    return result


class _StopRequest:
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
