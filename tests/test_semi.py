"""Few labels and semi-supervised training: exactly N labels per class, FixMatch's confidence mask, a stream of
unlabelled images that never carries a label, and a linear probe that leaves the backbone untouched."""
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from reslab.data import DataError, open_splits
from reslab.train.few_labels import labels_per_class
from reslab.train.semi import UnlabelledStream, unlabelled_loss
from reslab.data.unlabelled import WithoutLabels
from reslab.train import from_recipe, train
from test_pretrain import one_thread  # noqa: F401 -- the fixture

TINY = dict(model="resnet20_cifar", spec={"depths": [1, 1, 1], "widths": [4, 8, 16], "stem_channels": 4},
            img_size=16, progress=False, tensorboard=False, workers=0)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_labels_per_class_takes_exactly_n_of_every_class_seeded():
    train_set = open_splits(None, ("train",))["train"]
    a, b, c = (labels_per_class(train_set, 3, seed) for seed in (0, 0, 1))
    assert Counter(a.targets) == {k: 3 for k in range(10)}
    assert a.indices == b.indices and a.indices != c.indices


def test_labels_per_class_larger_than_a_class_is_one_clear_error():
    train_set = open_splits(None, ("train",))["train"]
    smallest = min(Counter(train_set.targets).values())
    with pytest.raises(DataError, match=f"at most {smallest}"):
        labels_per_class(train_set, smallest + 1, 0)


def test_fixmatch_masks_the_unconfident_and_trains_strong_on_weak_class():
    weak = torch.tensor([[10.0, 0.0], [0.2, 0.0], [0.0, 10.0]])  # confident 0, unsure, confident 1
    strong = torch.tensor([[1.0, 2.0], [5.0, -5.0], [0.0, 3.0]])
    loss, mask = unlabelled_loss(weak, strong, threshold=0.95)
    assert mask.tolist() == [1.0, 0.0, 1.0]
    ce = F.cross_entropy(strong, torch.tensor([0, 0, 1]), reduction="none")
    assert loss.item() == pytest.approx(((ce[0] + ce[2]) / 3).item())  # divided by all unlabelled images


def test_fixmatch_pseudo_labels_carry_no_gradient_to_the_weak_view():
    weak = torch.tensor([[10.0, 0.0]], requires_grad=True)
    strong = torch.tensor([[0.0, 1.0]], requires_grad=True)
    unlabelled_loss(weak, strong, 0.5)[0].backward()
    assert weak.grad is None and strong.grad.abs().sum() > 0


def test_unlabelled_stream_resumes_where_it_stopped():
    full = UnlabelledStream(7, seed=3)
    first = [key for key, _ in zip(full, range(20))]
    assert [key for key, _ in zip(UnlabelledStream(7, seed=3, start=9), range(11))] == first[9:]
    assert sorted(i for _, i in first[:7]) == list(range(7))  # each pass visits every image once


def test_unlabelled_pool_never_carries_a_label():
    pool = WithoutLabels(open_splits(None, ("train",))["train"])
    assert {pool.load(i)[1] for i in range(0, len(pool), 50)} == {-1}


def test_fixmatch_trains_on_the_allowed_labels_only(tmp_path, monkeypatch):
    import reslab.data.loader as loader
    import reslab.train.engine as engine

    seen_labels, unlabelled_labels = [], []
    real_loss, real_collate = engine.soft_target_loss, loader.collate_readable

    def spy_loss(logits, targets, kind):
        seen_labels.append(len(targets))
        return real_loss(logits, targets, kind)

    def spy_collate(samples):
        batch = real_collate(samples)
        if len(batch.labels) == 7 * 4:  # the unlabelled stream's batches (mu x batch); validation's are smaller
            unlabelled_labels.append(batch.labels.tolist())
        return batch

    monkeypatch.setattr(engine, "soft_target_loss", spy_loss)
    monkeypatch.setattr(loader, "collate_readable", spy_collate)
    train(from_recipe("fixmatch", labels_per_class=2, epochs=1, batch_size=4, val_subset=20,
                      output=str(tmp_path / "fm"), **TINY))
    assert seen_labels == [4] * 5  # 20 labelled images, batches of 4: no other label reaches the loss
    assert len(unlabelled_labels) >= 5 and {y for b in unlabelled_labels for y in b} == {-1}


def test_linear_probe_leaves_the_backbone_bit_identical(tmp_path):
    from reslab.factory import create_model
    from reslab.weights import save_weights

    torch.manual_seed(1)
    start = create_model("resnet20_cifar", input_size=16, depths=(1, 1, 1), widths=(4, 8, 16), stem_channels=4)
    save_weights(start, tmp_path / "start.safetensors")
    result = train(from_recipe("linear_probe", weights=str(tmp_path / "start.safetensors"), labels_per_class=4,
                               epochs=1, batch_size=8, val_subset=20, output=str(tmp_path / "probe"), **TINY))
    from safetensors.torch import load_file

    before, after = start.state_dict(), load_file(result.run_dir / "last.safetensors")
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert changed and all(k.startswith("fc.") for k in changed), changed


def test_fixmatch_resume_continues_the_unlabelled_stream_exactly(tmp_path):
    common = dict(labels_per_class=2, epochs=1, batch_size=4, val_subset=10, **TINY)
    whole = train(from_recipe("fixmatch", output=str(tmp_path / "whole"), **common))
    train(from_recipe("fixmatch", output=str(tmp_path / "cut"), stop_after_steps=2, **common))
    resumed = train({"resume": str(tmp_path / "cut"), "stop_after_steps": None})
    from safetensors.torch import load_file

    for name in ("last.safetensors", "last_ema.safetensors"):
        a, b = load_file(whole.run_dir / name), load_file(resumed.run_dir / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_fixmatch_settings_given_replace_the_published_ones(tmp_path, monkeypatch):
    """--semi-threshold, --semi-mu and --semi-lambda-u reach the loss (the threshold it masks with, the unlabelled
    batch's size); without --semi they are refused."""
    import reslab.train.semi as semi
    from reslab.train.config import ConfigError

    thresholds, sizes = [], []
    real_loss = semi.unlabelled_loss

    def spy_loss(weak, strong, threshold):
        thresholds.append(threshold)
        sizes.append(len(weak))
        return real_loss(weak, strong, threshold)

    monkeypatch.setattr(semi, "unlabelled_loss", spy_loss)
    train(from_recipe("fixmatch", labels_per_class=2, epochs=1, batch_size=4, val_subset=20, semi_threshold=0.6,
                      semi_mu=3, semi_lambda_u=0.5, output=str(tmp_path / "fm"), **TINY))
    assert set(thresholds) == {0.6} and set(sizes) == {3 * 4}  # not FixMatch's 0.95 and 7 x 4
    with pytest.raises(ConfigError, match="--semi-threshold is a setting of semi-supervised training"):
        from_recipe("cifar", semi_threshold=0.6, **TINY)
