"""Supervised training as the runner's task: `setup` opens the data and builds the model, optimiser and schedule
(or resumes them) into a `Run`; `train` hands it to `runner.run_epochs`, whose steps are `train_step` and whose
epochs end in `evaluate_epoch`, the NaN guard and a checkpoint."""
from __future__ import annotations

import dataclasses
import errno
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..errors import ReslabError
from ..factory import create_model
from ..util.table import format_table
from . import checkpoint, distributed
from .config import TrainConfig, from_recipe
from ..util.precision import autocast
from .ema import WeightEma
from .evaluate import EvalResult, evaluate
from .optim import build_optimizer, param_groups
from .epoch_log import EpochLog
from .runner import SampledEpochs, StopRequest, Tally, optimizer_step, processes, run_epochs, silent
from .rundir import CONFIG, EMA_WEIGHTS, claim
from .schedule import LrSchedule

DIVERGED_HINT = ("Usual causes: a learning rate too high (try a smaller --lr or a longer --warmup-epochs) or fp16 "
                 "overflow (try --amp bf16 or off)")


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


def build_model(cfg: TrainConfig, num_classes: int, in_chans: int | None = None):
    from ..models.finetune import freeze, freeze_bn
    from ..registry import get_preset

    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.spec.items()}
    if in_chans is not None:
        overrides["in_chans"] = in_chans
    overrides |= {k: getattr(cfg, k) for k in ("drop_path_rate", "drop_rate", "zero_init_last")
                 if getattr(cfg, k) is not None and not _recipe_field_absent(cfg, k)}
    if cfg.depth_scaled_regularisation:
        # ResNet-RS (Bello et al. 2021, Table 8 / App. C): dropout 0.25, stochastic depth only from ResNet-200 up
        overrides.setdefault("drop_rate", 0.25)
        overrides.setdefault("drop_path_rate", 0.1 if sum(get_preset(cfg.model).spec.depths) >= 66 else 0.0)
    if cfg.img_size:
        overrides["input_size"] = cfg.img_size
    model = create_model(cfg.model, num_classes=num_classes, weights=cfg.weights, rename=cfg.weights_rename,
                         **overrides)
    if cfg.freeze:
        freeze(model, names=list(cfg.freeze))
    if cfg.freeze_bn:
        freeze_bn(model)
    if cfg.linear_probe:
        from .probe import make_linear_probe

        make_linear_probe(model)
    return model


# --- the loop -----------------------------------------------------------------------------------------------------

def _recipe_field_absent(cfg: TrainConfig, name: str) -> bool:
    """A model-side setting that came from the recipe (e.g. tricks2018's zero_init_last) for a family whose spec
    has no such field (ConvNeXt has layer scale instead): the recipe's value does not apply. Set by hand, it is
    passed on, and the spec names the field it does not know."""
    from ..registry import get_preset
    from .recipes import get_recipe

    set_by_recipe = get_recipe(cfg.recipe).get(name) == getattr(cfg, name)
    return set_by_recipe and name not in get_preset(cfg.model).spec.to_dict()


def train(config: TrainConfig | dict | None = None, **overrides) -> TrainResult:
    """Train as `config` says (a TrainConfig, a dict of its fields, or None for the default job).

    To resume, set `resume` to a run directory: given as a dict (or keyword arguments), its --epochs and run
    controls apply and other differing settings are refused; given as a TrainConfig, the saved settings win."""
    cfg = _resolve(config, overrides)
    t0 = time.perf_counter()
    state = checkpoint.load_state(Path(cfg.output)) if cfg.resume else None
    if state is not None and _finished(state, cfg):
        return _already_finished(Path(cfg.output), state, t0)
    with processes(cfg) as (env, device):
        run = setup(cfg, state, env, device, t0)
        try:
            return _finish(run, *run_epochs(run))
        finally:
            run.close()


def train_step(run: Run, batch, epoch: int, i: int, tally: Tally) -> None:
    """Batch `i` of the epoch: forward, loss, backward; every `accum_steps` batches, the optimiser step."""
    run.unreadable.note(batch)
    run.schedule.set(run.global_step)
    if len(batch.labels) == 0:  # every image of the batch was unreadable: nothing to learn from
        run.skipped += 1
    else:
        images, targets = _mix(run, batch, epoch, i)
        loss, logits = run.forward_loss(images, targets.to(run.device, non_blocking=True))
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise TrainingDiverged(f"loss became {loss_value} at step {run.global_step + 1} (epoch {epoch + 1}, "
                                   f"batch {i + 1}); {_kept(run)}. {DIVERGED_HINT}")
        (run.scaler.scale(loss) if run.scaler else loss).div(run.cfg.accum_steps).backward()
        tally.loss_sum += loss_value * len(batch.labels)
        tally.correct += (logits.argmax(1).cpu() == batch.labels).sum().item()
        tally.seen += len(batch.labels)
        tally.batches += 1
    if (i + 1) % run.cfg.accum_steps == 0:
        optimizer_step(run.model, run.optimizer, run.scaler, run.ema, run.cfg.clip_grad)
    run.global_step += 1


def evaluate_epoch(run: Run, tally: Tally) -> tuple[dict, EvalResult]:
    """The epoch's metrics (training loss and accuracy summed over ranks, validation of the model and its EMA)."""
    env, device, cfg = run.env, run.device, run.cfg
    train_stats = distributed.all_sum([tally.loss_sum, tally.correct, tally.seen], env, device)
    reduce = (lambda t: torch.tensor(distributed.all_sum(t.flatten().tolist(), env, device),
                                     dtype=t.dtype).view_as(t)) if env.enabled else None
    result = evaluate(run.model, run.val_loader, run.classes, device, amp=cfg.amp, channels_last=cfg.channels_last,
                      reduce=reduce)
    run.unreadable.paths.update(result.unreadable)
    metrics = {"train_loss": train_stats[0] / max(train_stats[2], 1),
               "train_acc": train_stats[1] / max(train_stats[2], 1), "val_top1": result.top1,
               "val_top5": result.top5, "val_loss": result.loss, "lr": run.schedule.lr_at(run.global_step - 1)}
    if run.ema is not None:
        ema_result = evaluate(run.ema.model, run.val_loader, run.classes, device, amp=cfg.amp, reduce=reduce)
        metrics.update(ema_val_top1=ema_result.top1, ema_val_top5=ema_result.top5)
    return metrics, result


# --- the loop's helpers -------------------------------------------------------------------------------------------

def _mix(run: Run, batch, epoch: int, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup / CutMix / label smoothing of one batch, on the device; its draws depend on (seed, step) only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(hash((run.cfg.seed, epoch, i, run.env.rank)) % 2**63)
        images, targets = run.mixer(batch.images, batch.labels)
    fmt = torch.channels_last if run.cfg.channels_last else torch.contiguous_format
    return images.to(run.device, memory_format=fmt, non_blocking=True), targets


def _epoch_line(epoch: int, metrics: dict, result: EvalResult) -> str:
    return (f"epoch {epoch + 1}: train loss {metrics['train_loss']:.4f}, val top-1 {result.top1:.2%}, "
            f"top-5 {result.top5:.2%}"
            + (f", EMA top-1 {metrics['ema_val_top1']:.2%}" if "ema_val_top1" in metrics else "")
            + (f", {len(result.unreadable)} unreadable validation images skipped" if result.unreadable else ""))


def _save(run: Run, epoch: int, step_in_epoch: int, tally: list | None = None) -> None:
    if run.env.is_main:
        settings = {run.run_dir / CONFIG: lambda tmp: run.cfg.save(Path(tmp))} if run.replacing else {}
        checkpoint.save(run.run_dir, run.model, optimizer=run.optimizer, scaler=run.scaler, ema=run.ema, epoch=epoch,
                        step_in_epoch=step_in_epoch, global_step=run.global_step, epochs=run.cfg.epochs,
                        classes=run.classes, best=run.metrics, tally=tally, also=settings)
        if run.replacing and run.ema is None:  # an old run's EMA weights would pass for this run's
            (run.run_dir / EMA_WEIGHTS).unlink(missing_ok=True)
        run.replacing = False


def _kept(run: Run) -> str:
    if run.saved_epoch is None:
        return f"no checkpoint was saved in {run.run_dir}"
    return f"the last good checkpoint (epoch {run.saved_epoch}) is kept in {run.run_dir}"


def _check_finite(run: Run, where: str, val_loss: float | None = None) -> None:
    """Never save non-finite weights (or weights whose validation loss is not finite) as the last checkpoint."""
    nets = [run.model] + ([run.ema.model] if run.ema is not None else [])
    bad = [name for net in nets for name, t in net.state_dict().items()
           if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad or (val_loss is not None and not math.isfinite(val_loss)):
        what = f"weights became non-finite ({bad[0]}{' ...' if len(bad) > 1 else ''})" if bad else \
            f"validation loss became {val_loss}"
        raise TrainingDiverged(f"{what} at {where}; {_kept(run)}. {DIVERGED_HINT}")


def _finish(run: Run, epochs_done: int, stopped: str | None = None) -> TrainResult:
    """The run's result; a run that finished (not stopped to resume) prints its summary table."""
    result = TrainResult(run.run_dir, run.metrics, epochs_done, stopped, sorted(run.unreadable.paths),
                         wall_s=time.perf_counter() - run.t0, signum=run.stop.signum, skipped_batches=run.skipped)
    if run.env.is_main and result.stopped is None:
        rows = [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in result.metrics.items()]
        rows += [["epochs", result.epochs_done], ["unreadable images skipped", len(result.unreadable)],
                 ["batches skipped (all images unreadable)", result.skipped_batches],
                 ["wall time (s)", f"{result.wall_s:.1f}"]]
        print(format_table(["summary", "value"], rows))
    return result


# --- setup --------------------------------------------------------------------------------------------------------

@dataclass(eq=False)
class Run(SampledEpochs):
    """One run once set up: its settings, data, model and optimiser, and how far it has got."""
    cfg: TrainConfig
    env: distributed.DistEnv
    device: torch.device
    run_dir: Path
    t0: float
    classes: list[str]
    model: torch.nn.Module
    net: torch.nn.Module  # the model as trained: wrapped for data-parallel when there are several processes
    optimizer: torch.optim.Optimizer
    scaler: Any  # torch.amp.GradScaler for fp16, else None
    ema: WeightEma | None
    forward_loss: Callable  # (images, targets) -> (loss, logits); compiled with --compile
    sampler: Any
    train_loader: Any
    val_loader: Any
    rank_batch: int  # images per process per forward pass
    schedule: LrSchedule
    mixer: Any
    unreadable: Any  # the unreadable images met so far
    metrics: dict  # the last evaluated epoch's (saved as the checkpoint's "best")
    start_epoch: int = 0  # where this call starts: after a resume, the first batch not yet trained on
    start_step: int = 0
    global_step: int = 0
    saved_epoch: int | None = None  # the last checkpoint's epoch
    skipped: int = 0  # batches whose images were all unreadable
    log: EpochLog | None = None
    stop: StopRequest | None = None
    command: str = "train"
    replacing: bool = False  # a new run in a folder whose run files it replaces at its first checkpoint
    resumed_tally: tuple = ()  # (loss sum, correct, seen) of the epoch a mid-epoch resume starts in

    @property
    def steps_per_epoch(self) -> int:
        return self.sampler.per_rank // self.rank_batch

    @property
    def total_steps(self) -> int:
        """Forward passes of the whole run: --steps optimiser steps of --accum-steps passes, or --epochs epochs."""
        return self.cfg.steps * self.cfg.accum_steps if self.cfg.steps else self.cfg.epochs * self.steps_per_epoch

    @property
    def epochs(self) -> int:
        """Epochs the run spans; with --steps, the last one ends at the run's last step."""
        return -(-self.total_steps // self.steps_per_epoch)

    def batches_in(self, epoch: int) -> int:
        return min(self.steps_per_epoch, self.total_steps - epoch * self.steps_per_epoch)

    def say(self, *args, **kwargs) -> None:
        if self.env.is_main:
            print(*args, **kwargs)

    # --- the runner's Task (begin_epoch: SampledEpochs) ---
    @property
    def loader(self):
        return self.train_loader

    def step(self, batch, epoch: int, i: int, tally: Tally) -> None:
        train_step(self, batch, epoch, i, tally)

    def progress_text(self, tally: Tally) -> str:
        return f"loss {tally.loss_sum / max(tally.seen, 1):.4f} acc {tally.correct / max(tally.seen, 1):6.2%}"

    def end_epoch(self, epoch: int, tally: Tally) -> str:
        self.metrics, result = evaluate_epoch(self, tally)
        _check_finite(self, f"epoch {epoch + 1}", val_loss=result.loss)
        return _epoch_line(epoch, self.metrics, result)

    def save(self, epoch: int, step_in_epoch: int, tally: list | None) -> None:
        if step_in_epoch:  # a stop mid-epoch: the epoch end's check has not run
            _check_finite(self, f"step {self.global_step}")
        _save(self, epoch, step_in_epoch, tally)

    def close(self) -> None:
        self.stop.restore()
        if self.log is not None:
            self.log.close()


def setup(cfg: TrainConfig, state: dict | None, env, device: torch.device, t0: float) -> Run:
    """Everything the loop needs, every problem with the data found before a single step; resumed from `state`."""
    from ..data import UnreadableImages, is_audio
    from ..data.mixing import BatchMixer

    train_set, val_set, classes, rank_batch = _open_data(cfg, env)
    cfg = _fast_path(cfg, len(train_set) // env.world, rank_batch, device, is_audio(train_set), env)
    model, pre = _build_model(cfg, len(classes), device, audio=is_audio(train_set))
    base_lr = cfg.lr * cfg.batch_size / cfg.lr_batch  # linear scaling with the global batch
    optimizer = build_optimizer(_param_groups(cfg, model), cfg, base_lr)
    ema = WeightEma(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    scaler = torch.amp.GradScaler(device.type) if cfg.amp == "fp16" else None
    net = distributed.wrap(model, env, device, cfg.sync_bn)
    sampler, train_loader, val_loader = _make_loaders(cfg, env, train_set, val_set, pre, rank_batch)
    schedule = LrSchedule(optimizer, cfg, base_lr, sampler.per_rank // rank_batch, cfg.steps, cfg.accum_steps)
    mixer = BatchMixer(len(classes), cfg.mixup, cfg.cutmix, cfg.label_smoothing)
    run = Run(cfg, env, device, Path(cfg.output), t0, classes, model, net, optimizer, scaler, ema,
              _forward_loss(cfg, net, device), sampler, train_loader, val_loader, rank_batch, schedule, mixer,
              UnreadableImages(), metrics=dict(state["best"]) if state is not None else {})
    if state is not None:
        _resume(run, state)
    elif env.is_main:
        run.replacing = _start_run_dir(run.run_dir, cfg)
    if cfg.semi:  # the unlabelled stream opens where the run stands (after a resume, where it stopped)
        from .semi import SemiSupervised

        run.forward_loss = SemiSupervised(cfg, net, device, env, pre, rank_batch,
                                         soft_target_loss).start(run.global_step)
    run.log = EpochLog(run.run_dir, cfg.tensorboard, fresh=state is None, saved=run.metrics if state else None,
                       saved_epoch=run.saved_epoch, say=run.say) if env.is_main else None
    run.say(f"training {cfg.model} ({cfg.recipe} recipe) on {cfg.data or 'digits'}: {len(train_set)} "
            f"{'clips' if pre.audio is not None else 'images'}, "
            f"{len(classes)} classes, validating on {len(val_set)}, {_length(run)}, batch {cfg.batch_size}, "
            f"lr {base_lr:g}"
            + (f" (x{cfg.gamma:g} after {'steps' if cfg.steps else 'epochs'} {', '.join(map(str, cfg.milestones))})"
               if cfg.schedule == "step" else "")
            + f", {env.world} process(es) on {device}")
    run.stop = StopRequest()
    return run


# torch.compile of a CIFAR ResNet costs about 35 s on a 2-core CPU and then trains ~1.4x faster (with channels-last:
# benchmarks/RESULTS.md, "CIFAR training speed"); it pays back after about 70,000 images, so a run that trains on at
# least this many images per process (all its epochs or --steps) takes the compiled, channels-last path by default
FAST_PATH_IMAGES = 100_000


def _fast_path(cfg: TrainConfig, images: int, rank_batch: int, device: torch.device, audio: bool, env) -> TrainConfig:
    """--compile and --channels-last where they were left unset (None): on for an image model on a CPU or CUDA GPU
    whose run trains on at least FAST_PATH_IMAGES images per process; said when decided here."""
    if cfg.compile is not None and cfg.channels_last is not None:
        return cfg
    passes = cfg.steps * cfg.accum_steps if cfg.steps else cfg.epochs * (images // rank_batch)
    long_enough = passes * rank_batch >= FAST_PATH_IMAGES
    fast = long_enough and not audio and device.type in ("cpu", "cuda")
    compile_, channels_last = (fast if cfg.compile is None else cfg.compile,
                               (fast if cfg.compile is None else cfg.compile) if cfg.channels_last is None
                               else cfg.channels_last)
    if env.is_main and cfg.compile is None:
        why = (f"{passes * rank_batch:,} training images per process, at least {FAST_PATH_IMAGES:,}" if fast else
               "audio clips" if audio else f"the {device.type} device" if long_enough else
               f"{passes * rank_batch:,} training images per process, fewer than {FAST_PATH_IMAGES:,}")
        print(f"{'compiled, channels-last' if compile_ else 'eager (not compiled)'}: {why} "
              f"({'--no-compile' if compile_ else '--compile'} to choose otherwise)")
    return dataclasses.replace(cfg, compile=compile_, channels_last=channels_last)


def _open_data(cfg: TrainConfig, env) -> tuple[Any, Any, list[str], int]:
    """(train set, validation set, classes, images per process per pass), the settings checked against the data."""
    from ..data import DataError, open_splits

    splits = open_splits(cfg.data, decode=cfg.cache == "auto", say=print if env.is_main else silent,
                         progress=cfg.progress and env.is_main, subset=cfg.subset, val_subset=cfg.val_subset,
                         seed=cfg.seed)  # the subsets drawn before decoding: only their images are decoded
    train_set, val_set = splits["train"], splits["val"]
    classes = train_set.classes
    if cfg.num_classes is not None and cfg.num_classes != len(classes):
        raise DataError(f"--num-classes {cfg.num_classes} does not match the {len(classes)} classes of "
                        f"{cfg.data or 'digits'}: the classifier needs one output per class; leave "
                        f"--num-classes out to use {len(classes)}")
    if cfg.labels_per_class:
        from .few_labels import labels_per_class

        train_set = labels_per_class(train_set, cfg.labels_per_class, cfg.seed)
    if cfg.batch_size % (env.world * cfg.accum_steps):
        raise ReslabError(f"batch size {cfg.batch_size} must split evenly over {env.world} process(es) x "
                          f"{cfg.accum_steps} accumulation step(s)")
    if len(train_set) < cfg.batch_size:
        raise DataError(f"{len(train_set)} training images are fewer than one batch of {cfg.batch_size}")
    return train_set, val_set, classes, cfg.batch_size // env.world // cfg.accum_steps


def _build_model(cfg: TrainConfig, num_classes: int, device: torch.device, audio: bool = False):
    """(model on the device, its preprocessing with --test-crop-pct applied); on clips, a one-channel model whose
    preprocessing is their log-mel features."""
    from ..data.audio import fit_to_data

    model = build_model(cfg, num_classes, in_chans=1 if audio else None).to(device)
    fit_to_data(model, audio, cfg.data)
    pre = model.preprocessing
    if cfg.test_crop_pct:
        pre = type(pre)(**{**pre.__dict__, "crop_pct": cfg.test_crop_pct})
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, pre


def _param_groups(cfg: TrainConfig, model) -> list[dict]:
    """Weight decay (and, when fine-tuning, per-layer learning rates) by parameter."""
    if cfg.layer_decay is not None or cfg.head_lr is not None:
        from ..models.finetune import layer_decay_param_groups

        return layer_decay_param_groups(model, cfg.weight_decay, cfg.layer_decay or 1.0, cfg.head_lr or 1.0)
    return param_groups(model, cfg.weight_decay, cfg.no_decay_norm_bias)


def _make_loaders(cfg: TrainConfig, env, train_set, val_set, pre, rank_batch: int):
    """(training sampler, training loader, validation loader): each rank its own shard of every epoch. Splits in
    memory are cut into batches a batch at a time where their transforms allow, else go image by image."""
    from ..data import Augmented, ShardedEpochSampler, default_workers, is_in_memory, make_loader
    from ..data.evaluation import eval_loader
    from ..data.tensor_batches import train_batches
    from ..data.transforms import train_transform

    train_size = cfg.img_size or pre.input_size
    test_size = cfg.test_size or pre.input_size
    sampler = ShardedEpochSampler(len(train_set), seed=cfg.seed, rank=env.rank, world=env.world,
                                  repeats=cfg.repeated_aug)
    workers = default_workers(is_in_memory(train_set)) if cfg.workers is None else cfg.workers
    train_loader = train_batches(train_set, cfg, pre, train_size, sampler, rank_batch) or make_loader(
        Augmented(train_set, train_transform(cfg, pre, train_size), cfg.seed), rank_batch, sampler, workers,
        drop_last=True)
    val_loader = eval_loader(val_set, pre, 2 * rank_batch, size=test_size, rank=env.rank, world=env.world,
                             workers=workers)
    return sampler, train_loader, val_loader


def _forward_loss(cfg: TrainConfig, net, device: torch.device) -> Callable:
    """(images, targets) -> (loss, logits) under the run's autocast; compiled with --compile."""
    def forward_loss(images, targets):  # one graph for torch.compile: no .item(), no Python branches on data
        with autocast(device, cfg.amp):
            logits = net(images)
        return soft_target_loss(logits.float(), targets, cfg.loss), logits

    return torch.compile(forward_loss) if cfg.compile else forward_loss


def _resume(run: Run, state: dict) -> None:
    """Weights, optimiser, scaler, EMA, random state and position from a saved run."""
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    if run.scaler is not None and state["scaler"] is not None:
        run.scaler.load_state_dict(state["scaler"])
    if run.ema is not None and state["ema"] is not None:
        run.ema.load_state_dict(state["ema"])
    checkpoint.set_rng_state(state["rng"])
    run.start_epoch, run.start_step, run.global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
    run.saved_epoch = run.start_epoch
    if run.start_step and run.env.is_main:  # the other ranks' share is in rank 0's sum
        run.resumed_tally = tuple(state.get("tally") or ())
    longer = ""
    if run.cfg.epochs != state["epochs"]:
        cfg = run.cfg
        kept = (f"; the lr steps stay where the run put them, x{cfg.gamma:g} after epochs "
                f"{', '.join(map(str, cfg.milestones))}" if cfg.schedule == "step" and not cfg.steps else
                "; the cosine schedule now spans the new length" if cfg.schedule == "cosine" else "")
        longer = f" (now {cfg.epochs} epochs, was {state['epochs']}{kept})"
    run.say(f"resuming {run.run_dir} at epoch {run.start_epoch + 1}, step {run.start_step}{longer}")


def _start_run_dir(run_dir: Path, cfg: TrainConfig) -> bool:
    """A fresh run: the folder must be free (rundir.claim) and one we can write to. Return whether it replaces a
    run there; then its settings are written with its first checkpoint, so a run that fails before changes nothing."""
    replacing = claim(run_dir, cfg.overwrite)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if replacing:
            if not os.access(run_dir, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(run_dir))
        else:
            cfg.save(run_dir / CONFIG)
        return replacing
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST):
            raise
        reason = (e.strerror or str(e)).lower()
        raise ReslabError(f"cannot write the run to --output {run_dir} ({reason}); choose a folder you can write "
                          f"to") from None


def _length(run: Run) -> str:
    if run.cfg.steps:
        return f"{run.cfg.steps} steps ({run.epochs} epochs of {run.steps_per_epoch})"
    return f"{run.cfg.epochs} epochs"


def _finished(state: dict, cfg: TrainConfig) -> bool:
    """Whether the saved run has done all its steps (a --steps run) or epochs; a mid-epoch stop is never finished."""
    if state["step_in_epoch"]:
        return False
    return state["global_step"] >= cfg.steps * cfg.accum_steps if cfg.steps else state["epoch"] >= cfg.epochs


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
