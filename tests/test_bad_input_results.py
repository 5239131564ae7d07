"""Table-driven: input that once gave a wrong answer, or degraded silently, now gives the right
one or says what it did. Each case runs a command (in-process) or a Python call and returns what
it observed; the table holds the values expected, so a case cannot pass without being checked.
Other members of the group are tested where their feature lives: a new lr on
resume (test_commands.py), divergence (test_interruption.py), SIGTERM's status 143 and resume
line (test_commands.py); refusals (predict without a checkpoint, GradientDescent after its data
changed in place, NaN targets) are rows of test_bad_input.py."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import QUIET, write_csv

from torchtwolayer.data.module import TwoLayerDataModule
from torchtwolayer.data.schema import Schema
from torchtwolayer.lightning.checkpoints import AtomicCheckpointIO
from torchtwolayer.lightning.cli import lightning_main


def constant_column(tmp, caplog):
    """A column of 0.1 everywhere (not exact in float32) standardises to exactly 0, with a note."""
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.4f},0.1,{int(a > 0)}" for a in rng.normal(size=40))
    (tmp / "c.csv").write_text("a,c,label\n" + rows + "\n")
    dm = TwoLayerDataModule(dataset=str(tmp / "c.csv"))
    dm.setup("fit")
    X, _ = dm.tensors("train")
    return (
        torch.equal(X[:, 1], torch.zeros(len(X))),
        bool(X[:, 0].abs().max() < 10),
        "constant columns ['c']" in caplog.text,
    )


def probability_names(classes):
    """One probability column per class, named exactly (no two share a name); the prediction is the class itself."""

    def observe(tmp, caplog):
        schema = Schema(["x"], "label")
        schema.task, schema.classes = "multiclass", list(classes)
        columns = schema.decode(torch.tensor([[0.25, 0.75]]))
        names = [c for c in columns if c != "prediction"]
        return len(set(names)), columns["prediction"][0]

    return observe


def fit_then(args, observe):
    """``fit`` on a 40-row table with ``args``, then what ``observe(cli)`` sees."""

    def run(tmp, caplog):
        csv = write_csv(tmp / "t.csv", n=40)
        return observe(lightning_main(["fit", *QUIET, "--data.dataset", str(csv), *args]))

    return run


def checkpoint_io_and_precision(cli):
    return type(cli.trainer.strategy.checkpoint_io), cli.trainer.precision


def steps_and_last_checkpoint(cli):
    return cli.trainer.global_step, (Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt").is_file()


def one_class_split(tmp, caplog):
    """Without stratification a training split may miss a class: a warning says so, and how to fix it."""
    rows = "".join(f"{i},{int(i == 19)}\n" for i in range(20))
    (tmp / "rare.csv").write_text("a,label\n" + rows)
    for seed in range(20):  # a seed whose random split leaves the one row of class 1 out of training
        caplog.clear()
        dm = TwoLayerDataModule(dataset=str(tmp / "rare.csv"), stratify=False, val_fraction=0.5, seed=seed)
        dm.setup("fit")
        if 19 not in dm.raw_split("train")[0][:, 0].tolist():
            break
    return "the training split holds 1 of the 2 classes" in caplog.text, "Stratified splitting" in caplog.text


def text_column_left_out(tmp, caplog):
    """An ``id`` column of text that --data.features leaves out is not parsed at all."""
    rows = "".join(f"row{i},{i % 3},{i % 5},{i % 2}\n" for i in range(40))
    (tmp / "id.csv").write_text("id,f1,f2,label\n" + rows)
    args = ["--data.dataset", str(tmp / "id.csv"), "--data.features", "[f1,f2]", "--trainer.max_steps", "3"]
    cli = lightning_main(["fit", *QUIET, *args])
    return cli.datamodule.feature_names, cli.trainer.global_step


# (name, case, what the case must return)
CASES = [
    ("constant column", constant_column, (True, True, True)),
    *[
        (f"probability columns {c}", probability_names(c), (len(c), c[1]))
        for c in ([1234567, 1234568], [0.1, 0.1000001], [1e-9, 1.0000001e-9], ["a", "A"], [False, True])
    ],
    (
        "--trainer.plugins keeps the atomic writer",
        fit_then(
            ["--trainer.max_steps", "3", "--trainer.plugins", "lightning.pytorch.plugins.precision.DoublePrecision"],
            checkpoint_io_and_precision,
        ),
        (AtomicCheckpointIO, "64-true"),
    ),
    (
        "step limit inside the first epoch of a table",
        fit_then(["--trainer.max_steps", "10"], steps_and_last_checkpoint),
        (10, True),
    ),
    ("a text column left out by --data.features", text_column_left_out, (["f1", "f2"], 3)),
    ("one-class training split", one_class_split, (True, True)),
]


@pytest.mark.parametrize("case,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_right_result(case, expected, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert case(tmp_path, caplog) == expected
