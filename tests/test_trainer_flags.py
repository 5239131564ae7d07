"""Every Trainer flag and stock callback a Lightning user reaches for changes training as Lightning
documents it, in Lightning's units: a batch is a batch, a step is an optimizer step, and each step
still runs the note's hand-written backward."""

import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from helpers import QUIET, fit
from lightning.pytorch.callbacks import LearningRateMonitor, StochasticWeightAveraging
from lightning.pytorch.loggers import CSVLogger

from torchtwolayer.commands import main
from torchtwolayer.data.module import TwoLayerDataModule
from torchtwolayer.lightning.lr_find import find_lr
from torchtwolayer.lightning.module import TwoLayerModule

BATCHES = 8  # moons, 128 rows of which 96 train, batches of 12


class Record(pl.Callback):
    """What the loop did, batch by batch: batch_idx, global_step, gradients, lr, validations, weights."""

    def __init__(self) -> None:
        self.batch_idx, self.steps, self.grad_norms, self.grad_max, self.lrs = [], [], [], [], []
        self.validated_at, self.epoch_weights = [], []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        self.batch_idx.append(batch_idx)
        self.steps.append(trainer.global_step)
        if grads:
            self.grad_norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
            self.grad_max.append(max(g.abs().max().item() for g in grads))

    def on_train_epoch_start(self, trainer, module):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_validation_start(self, trainer, module):
        if not trainer.sanity_checking:
            self.validated_at.append(trainer.global_step)

    def on_train_epoch_end(self, trainer, module):
        self.epoch_weights.append({k: v.detach().clone() for k, v in module.net.state_dict().items()})


def train(tmp_path, callbacks=(), data=None, model=None, **trainer):
    """A fit on tiny data; returns (record, module, trainer)."""
    record = Record()
    dm = TwoLayerDataModule(
        **{"dataset": "moons", "n_samples": 128, "batch_size": 12, "val_fraction": 0.25, **(data or {})}
    )
    module = TwoLayerModule(**{"n_features": 2, "hidden_size": 4, "lr": 0.5, **(model or {})})
    options = {"max_epochs": 2, "logger": False, "enable_checkpointing": False, "enable_progress_bar": False,
               "enable_model_summary": False, "num_sanity_val_steps": 0, "default_root_dir": tmp_path}  # fmt: skip
    t = pl.Trainer(callbacks=[record, *callbacks], **{**options, **trainer})
    t.fit(module, dm)
    return record, module, t


def test_each_batch_is_one_training_step_with_its_own_batch_idx_and_backward(tmp_path, backward_calls):
    record, _, trainer = train(tmp_path)
    assert record.batch_idx == list(range(BATCHES)) * 2  # on_train_batch_end once per batch, true batch_idx
    assert record.steps == list(range(1, 2 * BATCHES + 1))  # one optimizer step per batch
    assert len(backward_calls) == 2 * BATCHES == trainer.global_step


def _clip_norm(r, t):
    assert max(r.grad_norms) <= 0.05 * (1 + 1e-5)
    assert any(n == pytest.approx(0.05, rel=1e-4) for n in r.grad_norms)  # clipping did happen


def _clip_value(r, t):
    assert max(r.grad_max) <= 0.01 * (1 + 1e-6)
    assert sum(m == pytest.approx(0.01) for m in r.grad_max) > BATCHES  # clipping did happen


def _accumulate(r, t):
    assert t.global_step == 2 * BATCHES // 4  # one optimizer step per 4 batches
    assert r.steps == [(i + 1) // 4 for i in range(2 * BATCHES)]


def _val_check(r, t):
    assert r.validated_at == [5, 10, 15]  # every 5 batches (counted across epochs)


def _limit(r, t):
    assert r.batch_idx == [0, 1, 2, 0, 1, 2] and t.global_step == 6


def _step_lr(r, t):
    assert r.lrs == pytest.approx([0.5, 0.25, 0.125])


def _swa(r, t, module):
    # swa_epoch_start=2 (Lightning counts it from 1): the weights entering epochs 2, 3 and 4 (of 4) are
    # averaged, those at the end of epochs 1, 2 and 3, 0-based 0, 1 and 2
    averaged = {k: torch.stack([w[k] for w in r.epoch_weights[:3]]).mean(0) for k in r.epoch_weights[0]}
    for k, v in module.net.state_dict().items():
        torch.testing.assert_close(v, averaged[k])
        assert not torch.equal(v, r.epoch_weights[-1][k])


FLAGS = {  # flag: (trainer kwargs, model kwargs, callbacks, check)
    "gradient_clip_val (norm)": ({"gradient_clip_val": 0.05}, {}, [], _clip_norm),
    "gradient_clip_val (value)": ({"gradient_clip_val": 0.01, "gradient_clip_algorithm": "value"}, {}, [], _clip_value),
    "accumulate_grad_batches": ({"accumulate_grad_batches": 4}, {}, [], _accumulate),
    "val_check_interval": ({"val_check_interval": 5, "check_val_every_n_epoch": None}, {}, [], _val_check),
    "limit_train_batches": ({"limit_train_batches": 3}, {}, [], _limit),
    "lr_scheduler StepLR": (
        {"max_epochs": 3},
        {"lr_scheduler": {"class_path": "StepLR", "init_args": {"step_size": 1, "gamma": 0.5}}},
        [],
        _step_lr,
    ),
}


@pytest.mark.parametrize("flag", FLAGS)
def test_trainer_flag_changes_training_as_lightning_documents(flag, tmp_path, backward_calls):
    trainer, model, callbacks, check = FLAGS[flag]
    record, _, t = train(tmp_path, callbacks, model=model, **trainer)
    check(record, t)
    assert len(backward_calls) == len(record.batch_idx)  # every batch through the hand-written backward


def test_stochastic_weight_averaging_averages_the_epochs_weights(tmp_path):
    swa = StochasticWeightAveraging(swa_lrs=0.1, swa_epoch_start=2)
    record, module, _ = train(tmp_path, [swa], max_epochs=4)
    _swa(record, None, module)


def test_learning_rate_monitor_logs_the_learning_rate(tmp_path):
    logger = CSVLogger(tmp_path, name="run")
    train(tmp_path, [LearningRateMonitor("epoch")], model={"lr": 0.3}, logger=logger, max_epochs=2, log_every_n_steps=4)
    rows = (Path(logger.log_dir) / "metrics.csv").read_text().splitlines()
    column = rows[0].split(",").index("lr-SGD")
    assert [float(r.split(",")[column]) for r in rows[1:] if r.split(",")[column]] == [0.3, 0.3]
    assert "train/loss_step" in rows[0]


def test_lr_find_suggests_a_learning_rate_and_draws_it(tmp_path):
    dm = TwoLayerDataModule("moons", n_samples=128, val_fraction=0.0)
    module = TwoLayerModule(n_features=2, hidden_size=4)
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path)
    suggestion, picture = find_lr(trainer, module, dm, tmp_path / "lr.png", num_training=40)
    assert 1e-4 <= suggestion <= 10 and picture.stat().st_size > 0
    assert module.stop_on_divergence  # restored


def test_lr_find_command_prints_the_suggestion_and_the_next_fit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["lr-find", *QUIET, "--data.n_samples", "100", "--num_training", "30", "--output", "a.png"]) == 0
    out = capsys.readouterr().out
    assert "Suggested learning rate" in out and "fit --model.lr" in out and Path("a.png").is_file()
    assert main(["lr-find", *QUIET, "--data.n_samples", "100", "--num_training", "30", "--output", "a.png"]) == 2
    assert "already exists" in capsys.readouterr().err  # nothing overwritten


@pytest.mark.parametrize("optimizer", ["Adam", "SGD"])
def test_another_optimizer_is_refused_in_one_line(optimizer, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *QUIET, "--optimizer", optimizer, "--trainer.max_steps", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "note's update, SGD" in err and "--model.lr" in err
    assert not Path("runs").exists()


def test_lr_scheduler_flag_is_kept_in_the_checkpoint_as_plain_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--data.full_batch_steps", "10", "--lr_scheduler", "StepLR", "--lr_scheduler.step_size", "1"]
    assert fit(*args, "--lr_scheduler.gamma", "0.5", "--trainer.max_steps", "30") == 0
    ckpt = torch.load(next(Path("runs").rglob("last.ckpt")), weights_only=True)
    assert ckpt["hyper_parameters"]["lr_scheduler"]["class_path"] == "torch.optim.lr_scheduler.StepLR"
    assert ckpt["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(1.2 * 0.5**3)


def test_best_checkpoint_exists_when_the_step_limit_comes_before_the_first_validation(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fit("--data.full_batch_steps", "100", "--trainer.max_steps", "30") == 0  # validation is due at 100
    out, err = capsys.readouterr()
    assert "checkpoints/best.ckpt (best, lowest val/loss)" in out
    shown = [str(w.message) for w in caught] + [out, err]
    assert not [text for text in shown if "could not find the monitored key" in text]
    assert torch.load(next(Path("runs").rglob("best.ckpt")), weights_only=True)["global_step"] == 30
