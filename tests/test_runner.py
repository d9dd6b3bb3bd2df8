"""The runner drives any task that has the Task protocol's attributes and methods: a toy task, written here alone,
gets the epoch loop, a stop on request at a step boundary, an exact resume with the epoch's tally, and the log."""
from types import SimpleNamespace

import pytest
import torch

from reslab.train.epoch_log import EpochLog
from reslab.train.runner import StopRequest, Tally, run_epochs


class Toy:
    """Fit w to the mean of a fixed sequence by SGD, 4 batches an epoch, 3 epochs; its whole state is (w, momentum)."""
    command, epochs, total_steps = "toy", 3, 12
    data = [1.0, 3.0, 2.0, 6.0]

    def __init__(self, run_dir, stop_after=None, saved=None, log=True):
        self.cfg = SimpleNamespace(progress=False, accum_steps=1, stop_after_steps=stop_after)
        self.env, self.device, self.run_dir = SimpleNamespace(is_main=True, enabled=False), torch.device("cpu"), run_dir
        self.w, self.start_epoch, self.start_step, self.global_step, self.resumed_tally = 0.0, 0, 0, 0, ()
        if saved is not None:
            self.w, self.start_epoch, self.start_step, self.global_step, self.resumed_tally = saved
        self.saved_epoch, self.metrics, self.stop, self.checkpoint = self.start_epoch, {}, StopRequest(), None
        self.log = EpochLog(run_dir, tensorboard=False, fresh=saved is None, saved_epoch=self.start_epoch) \
            if log else None

    def batches_in(self, epoch):
        return 4

    def begin_epoch(self, epoch, first):
        return self.data[first:]

    def step(self, x, epoch, i, tally):
        loss = (self.w - x) ** 2
        self.w -= 0.1 * 2 * (self.w - x)
        tally.loss_sum, tally.batches, tally.seen = tally.loss_sum + loss, tally.batches + 1, tally.seen + 1
        self.global_step += 1

    def progress_text(self, tally):
        return ""

    def end_epoch(self, epoch, tally):
        self.metrics = {"train_loss": tally.loss_sum / tally.batches, "batches": tally.batches, "w": self.w}
        return f"epoch {epoch + 1}"

    def save(self, epoch, step_in_epoch, tally):
        self.checkpoint = (self.w, epoch, step_in_epoch, self.global_step, tuple(tally or ()))

    def say(self, *args):
        pass


def test_a_toy_task_stops_resumes_exactly_and_logs_every_epoch_whole(tmp_path):
    whole = Toy(tmp_path / "whole")
    (tmp_path / "whole").mkdir()
    assert run_epochs(whole) == (3, None)
    (tmp_path / "cut").mkdir()
    cut = Toy(tmp_path / "cut", stop_after=6)  # inside epoch 2
    assert run_epochs(cut) == (1, "stop_after_steps")
    assert cut.checkpoint[1:4] == (1, 2, 6) and Tally(*cut.checkpoint[4]).batches == 2
    resumed = Toy(tmp_path / "cut", saved=cut.checkpoint)
    assert run_epochs(resumed) == (3, None)
    assert resumed.w == pytest.approx(whole.w, abs=0, rel=1e-15)
    assert (tmp_path / "cut" / "metrics.csv").read_text() == (tmp_path / "whole" / "metrics.csv").read_text()
    import csv

    with open(tmp_path / "cut" / "metrics.csv", newline="") as f:
        assert [row["batches"] for row in csv.DictReader(f)] == ["4", "4", "4"]  # epoch 2: all 4, not 2


def test_the_last_step_of_the_run_is_never_a_stop(tmp_path):
    toy = Toy(tmp_path, stop_after=12, log=False)
    assert run_epochs(toy) == (3, None)
