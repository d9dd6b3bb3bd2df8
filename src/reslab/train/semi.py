"""Semi-supervised training: each labelled batch comes with `mu` times as many unlabelled images, whose confident
predictions become their own targets. FixMatch (Sohn et al. 2020) predicts on a weak view (flip and crop) and
trains a strong view (RandAugment and Cutout) on it; plain pseudo-labelling (Lee 2013, FixMatch's baseline)
trains the weak view on its own prediction. The unlabelled images' labels are never read (WithoutLabels)."""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch.utils.data import Sampler

from ..data import DataError
from ..util.precision import autocast

SEMI_METHODS = {
    "fixmatch": dict(source="Sohn et al. 2020, FixMatch, Sec. 3, 4 and App. B.1", threshold=0.95, mu=7,
                     lambda_u=1.0, strong=True),
    "pseudo_label": dict(source="Lee 2013, Pseudo-Label; with FixMatch's threshold and batch ratio (Sohn et al. "
                                "2020, Sec. 4)", threshold=0.95, mu=7, lambda_u=1.0, strong=False),
}
CUTOUT = 0.25  # of the image area: FixMatch's Cutout square (App. B.1 / Table 12), a 16 px square on 32 px


def unlabelled_loss(weak_logits: torch.Tensor, strong_logits: torch.Tensor, threshold: float):
    """(loss, mask): cross-entropy of the strong view against the weak view's class, for the images whose weak
    prediction is at least `threshold` confident; averaged over all unlabelled images (FixMatch eq. 4)."""
    confidence, pseudo = weak_logits.detach().softmax(-1).max(-1)
    mask = (confidence >= threshold).float()
    return (F.cross_entropy(strong_logits, pseudo, reduction="none") * mask).mean(), mask


class UnlabelledStream(Sampler):
    """(pass, index) keys without end: pass p is a permutation seeded by seed + p; this rank takes every
    world-th key from position `start` (so a resumed run continues the stream where it stopped)."""

    def __init__(self, size: int, seed: int, start: int = 0, rank: int = 0, world: int = 1):
        self.size, self.seed, self.start, self.rank, self.world = size, seed, start, rank, world

    def __iter__(self):
        position = self.start * self.world + self.rank
        order, current = None, -1
        while True:
            p, i = divmod(position, self.size)
            if p != current:
                order, current = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + p)), p
            yield p, int(order[i])
            position += self.world


class SemiSupervised:
    """forward_loss(images, targets) -> (loss, labelled logits) for the engine, drawing the step's unlabelled batch
    from its own stream; `labelled_loss(logits, soft targets, kind)` is the engine's supervised loss."""

    def __init__(self, cfg, net, device, env, pre, rank_batch: int, labelled_loss):
        from ..data.transforms import train_transform
        from ..data.views import Views

        self.cfg, self.net, self.device, self.env, self.labelled_loss = cfg, net, device, env, labelled_loss
        given = {k: getattr(cfg, f"semi_{k}") for k in ("threshold", "mu", "lambda_u")}
        self.method = SEMI_METHODS[cfg.semi] | {k: v for k, v in given.items() if v is not None}
        self.pool = open_pool(cfg)
        self.batch = self.method["mu"] * rank_batch
        if len(self.pool) < self.batch * env.world:
            raise DataError(f"the unlabelled pool has {len(self.pool)} images, fewer than one unlabelled batch of "
                            f"{self.batch * env.world} (mu {self.method['mu']} x batch {cfg.batch_size})")
        size = cfg.img_size or pre.input_size
        weak_cfg = dataclasses.replace(cfg, crop="pad", hflip=True, color_jitter=0.0, auto_augment="none",
                                       random_erasing=0.0)
        weak = train_transform(weak_cfg, pre, size)
        views = [weak]
        if self.method["strong"]:
            views.append(train_transform(dataclasses.replace(weak_cfg, auto_augment="randaugment",
                                                             randaug_magnitude=10, random_erasing=1.0), pre, size))
        self.views = Views(*views)
        self.stream = None

    def start(self, global_step: int):
        """Open the unlabelled stream at `global_step`; returns the forward_loss."""
        from ..data import Augmented, default_workers, is_in_memory
        from ..data.loader import collate_readable
        from ..data.unlabelled import WithoutLabels

        sampler = UnlabelledStream(len(self.pool), self.cfg.seed + 1, global_step * self.batch, self.env.rank,
                                   self.env.world)
        workers = default_workers(is_in_memory(self.pool)) if self.cfg.workers is None else self.cfg.workers
        loader = torch.utils.data.DataLoader(Augmented(WithoutLabels(self.pool), self.views, self.cfg.seed + 1),
                                             batch_size=self.batch, sampler=sampler, num_workers=workers,
                                             collate_fn=collate_readable)
        self.stream = iter(loader)
        return self.forward_loss

    def forward_loss(self, images: torch.Tensor, targets: torch.Tensor):
        u = next(self.stream).images.to(self.device, non_blocking=True)  # (mu B, views, C, H, W)
        n, m = len(images), len(u)
        with autocast(self.device, self.cfg.amp):  # one pass, so BatchNorm sees labelled and unlabelled together
            logits = self.net(torch.cat([images, *u.unbind(1)])).float()
        labelled, weak = logits[:n], logits[n:n + m]
        strong = logits[n + m:] if self.method["strong"] else weak
        loss_u, _ = unlabelled_loss(weak, strong, self.method["threshold"])
        return self.labelled_loss(labelled, targets, self.cfg.loss) + self.method["lambda_u"] * loss_u, labelled


def open_pool(cfg):
    """The unlabelled images: --unlabelled DIR (its train/ split, or every image under it), else the training
    split of --data, whose labels are then hidden."""
    from ..data.unlabelled import open_images

    return open_images(cfg.unlabelled or cfg.data, decode=cfg.cache == "auto")["train"]
