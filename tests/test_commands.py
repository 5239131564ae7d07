"""The command as a newcomer meets it: help, output modes, the best checkpoint, honest held-out
testing, resuming (new settings apply; nothing to do is said), and the CSV defaults. (SIGTERM:
tests/test_interruption.py.)"""

import logging
import subprocess
import sys
import warnings
from datetime import datetime
from pathlib import Path

import pytest
import torch
import yaml
from helpers import QUIET, fit, last_checkpoint, load_script, write_csv

from torchtwolayer.commands import COMMANDS, main
from torchtwolayer.lightning.defaults import table_defaults

TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_top_level_help_lists_every_command_in_one_line_each_without_lightning():
    code = "import sys; from torchtwolayer.commands import main; main(['--help']); print('lightning' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    assert lines[-1] == "False"  # Lightning is not imported for the help
    for command in COMMANDS:
        assert sum(line.strip().startswith(command + " ") for line in lines) == 1, command
    assert main([]) == 2  # no command: the same help, as a usage error


def test_fit_help_is_named_after_the_command_and_hides_linked_arguments(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: torchtwolayer ") and "__main__" not in out
    for linked in ("--model.task", "--model.n_outputs", "--model.n_features", "--model.target_mean"):
        assert linked not in out
    assert "--model.hidden_size" in out and "--data.dataset" in out
    max_steps = out[out.index("--trainer.max_steps MAX_STEPS\n") :].split("--trainer.min_steps")[0]
    assert "default: 10000" in max_steps and "Disabled by default" not in max_steps


def test_a_command_builds_the_parser_of_its_own_subcommand_only(capsys, monkeypatch):
    """Each subcommand's parser costs ~0.05 s of CPU to build; a run builds its own (its help and
    messages, tested above and in test_bad_input.py, are those of the full parser). The choice is a
    class attribute, put back after the run, so that it cannot leak into the next one."""
    from torchtwolayer.lightning.cli import TwoLayerCLI

    every = TwoLayerCLI.subcommands()
    assert list(every) == ["fit", "validate", "test", "predict", "lr_find"]
    for command, expected in [("predict", {"predict": every["predict"]}), ("lr-find", every), (None, every)]:
        monkeypatch.setattr(TwoLayerCLI, "command", command)
        assert TwoLayerCLI.subcommands() == expected  # a name that is not a subcommand's: every parser
    built: list[list[str]] = []  # the subcommands of each call during a run
    subcommands = TwoLayerCLI.subcommands.__func__
    monkeypatch.setattr(TwoLayerCLI, "subcommands", classmethod(lambda cls: built.append(list(subcommands(cls)))
                                                                 or subcommands(cls)))  # fmt: skip
    assert main(["validate", *QUIET, "--ckpt_path", "missing.ckpt"]) == 2
    assert "missing.ckpt" in capsys.readouterr().err
    assert built and all(names == ["validate"] for names in built), built
    assert TwoLayerCLI.command is None


def test_default_output_is_quiet_and_quiet_is_only_the_summary(capfd, caplog):
    """Lightning's lines are log records (caplog sees them wherever its handler writes). Epochs of 10
    steps (the flower's are 100) keep the runs short."""
    short = ["--data.full_batch_steps", "10"]
    assert main(["fit", *short, "--trainer.max_steps", "20"]) == 0
    out, err = capfd.readouterr()
    assert "epoch 0  step 10" in out and "epoch 1  step 20" in out  # not a terminal: a line per epoch
    assert "Finished after 20 steps" in out
    for noise in ("Seed set to", "GPU available", "litlogger", "LeafSpec"):
        assert noise not in out + err + caplog.text
    for quiet in (["-q", "fit"], ["fit", "-q"], ["fit", "--trainer.max_steps", "5", "--quiet"]):  # before or after
        assert main([*quiet, *short, "--trainer.max_steps", "10"]) == 0
        out, err = capfd.readouterr()
        assert "epoch 0" not in out and "Finished after 10 steps" in out and "usage" not in err
    assert main(["fit", "-v", *short, "--trainer.max_steps", "10"]) == 0
    assert "GPU available" in caplog.text + "".join(capfd.readouterr())


@pytest.mark.parametrize(
    "args",
    [
        ["--data.val_fraction", "0", "--trainer.max_steps", "5"],  # no validation split
        ["--data.test_fraction", "0.2", "--trainer.max_steps", "3"],  # stopped before the first validation
    ],
    ids=["no validation split", "stopped before validation"],
)
def test_no_lightning_message_that_means_nothing_to_the_user(args, capfd, caplog):
    train = write_csv(Path("train.csv"), n=100)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")  # every warning a user would see: Python hides these kinds by default
        for hidden in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", hidden)
        assert fit("--data.dataset", str(train), *args) == 0
        assert main(["test", *QUIET, "--ckpt_path", str(last_checkpoint()), "--data.dataset", str(train)]) in (0, 2)
    assert [str(w.message) for w in shown] == []
    err = capfd.readouterr().err
    assert [line for line in err.splitlines() if not line.startswith(("note:", "torchtwolayer: error:"))] == []
    assert all(r.name.startswith("torchtwolayer") for r in caplog.records if r.levelno >= logging.WARNING)


def test_best_checkpoint_is_kept_beside_last_and_test_reuses_the_split(capsys):
    """fit with a test split reports it; ``test --ckpt_path best`` scores the same rows; another
    split is refused; a hold-out file is scored whole."""
    train = write_csv(Path("train.csv"), n=200)
    assert fit("--data.dataset", str(train), "--data.test_fraction", "0.2", "--trainer.max_steps", "60") == 0
    out = capsys.readouterr().out
    run = Path("runs/torchtwolayer/version_0/checkpoints")
    assert (run / "best.ckpt").is_file() and (run / "last.ckpt").is_file()
    assert f"Scores of {run}/best.ckpt (best, lowest val/loss)" in out
    summary_test = float(next(line for line in out.splitlines() if line.startswith("  test")).split()[2])

    assert main(["test", *QUIET, "--ckpt_path", "best"]) == 0
    out = capsys.readouterr().out
    assert f"{summary_test:.4f}"[:5] in out  # the same rows: the summary's test loss
    assert not Path("runs/torchtwolayer/version_1").exists()  # evaluation makes no run folder

    assert main(["test", *QUIET, "--ckpt_path", "best", "--data.test_fraction", "0.3"]) == 2
    assert "fixes its split" in capsys.readouterr().err

    holdout = write_csv(Path("holdout.csv"), n=50, seed=7)
    assert main(["test", *QUIET, "--ckpt_path", "best", "--data.dataset", str(holdout)]) == 0
    out = capsys.readouterr().out
    from torchtwolayer.lightning.checkpoints import load_data, load_model

    model, dm = load_model(run / "best.ckpt"), load_data(run / "best.ckpt", dataset=str(holdout), holdout=True)
    X, Y = dm.tensors("test")
    assert len(X) == 50  # every row
    assert f"{model.score(X, Y)['loss']:.4f}"[:5] in out


def test_a_refused_fit_leaves_no_run_and_last_and_best_say_which_run_they_picked(capsys, caplog):
    """A fit that diverges before its first checkpoint leaves no version folder; ``best`` then picks
    the run before it, and a note says which (its folder and when it was saved)."""
    train = write_csv(Path("train.csv"), n=60)
    assert fit("--data.dataset", str(train), "--data.test_fraction", "0.2", "--trainer.max_steps", "10") == 0
    assert fit("--data.dataset", str(train), "--data.test_fraction", "0.2", "--model.lr", "1e30") == 2
    assert "training diverged" in capsys.readouterr().err
    assert sorted(p.name for p in Path("runs/torchtwolayer").iterdir()) == ["version_0"]  # no version_1
    for which in ("best", "last"):
        caplog.clear()
        assert main(["test", *QUIET, "--ckpt_path", which]) == 0
        notes = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"note: --ckpt_path {which}")]
        saved = Path(f"runs/torchtwolayer/version_0/checkpoints/{which}.ckpt").stat().st_mtime
        assert notes == [
            f"note: --ckpt_path {which} is runs/torchtwolayer/version_0/checkpoints/{which}.ckpt: run version_0, "
            f"saved {datetime.fromtimestamp(saved):%Y-%m-%d %H:%M:%S}"
        ]


def test_resume_applies_a_new_learning_rate_and_says_so(caplog):
    assert fit("--trainer.max_steps", "100") == 0
    assert fit("--trainer.max_steps", "200", "--ckpt_path", "last", "--model.lr", "0.3") == 0
    assert "lr 1.2 → 0.3" in caplog.text
    ckpt = torch.load(last_checkpoint(), weights_only=True)
    assert ckpt["global_step"] == 200 and ckpt["hyper_parameters"]["lr"] == 0.3
    assert ckpt["optimizer_states"][0]["param_groups"][0]["lr"] == 0.3
    assert fit("--ckpt_path", "last", "--model.hidden_size", "8") == 2  # the architecture is the checkpoint's


def test_resume_with_nothing_to_do_says_so_and_creates_nothing(capsys):
    assert fit("--trainer.max_steps", "100") == 0
    capsys.readouterr()
    before = sorted(Path("runs").rglob("*"))
    assert fit("--trainer.max_steps", "100", "--ckpt_path", "last") == 0
    out = capsys.readouterr().out
    assert "already reached step 100" in out and "nothing to do" in out and "--trainer.max_steps" in out
    assert sorted(Path("runs").rglob("*")) == before


def test_a_csv_without_flags_gets_the_tabular_defaults():
    import numpy as np

    rng = np.random.default_rng(0)  # labels that are noise: the validation loss soon rises
    np.savetxt("train.csv", np.c_[rng.normal(size=(200, 3)), rng.integers(0, 2, 200)], delimiter=",",
               header="f1,f2,f3,label", comments="", fmt="%.5f")  # fmt: skip
    train = Path("train.csv")
    assert fit("--data.dataset", str(train)) == 0
    ckpt = torch.load(last_checkpoint(), weights_only=True)
    hp, data = ckpt["hyper_parameters"], ckpt["datamodule_hyper_parameters"]
    from torchtwolayer.data.module import TABLE_BATCH_SIZE
    from torchtwolayer.lightning.defaults import TABULAR

    model_defaults = {k: v for k, v in TABULAR.items() if k.startswith("model.")}
    assert {k: hp[k.split(".")[1]] for k in model_defaults} == model_defaults
    assert data["batch_size"] is None  # resolved by the data module: TABLE_BATCH_SIZE rows
    assert ckpt["epoch"] < TABULAR["trainer.max_epochs"] - 1  # early stopping on val/loss ended it
    assert any(k.startswith("EarlyStopping") for k in ckpt["callbacks"])
    assert TABLE_BATCH_SIZE == 32
    # flags win, also one equal to the flower's default
    assert fit("--data.dataset", str(train), "--model.hidden_size", "4", "--trainer.max_steps", "10") == 0
    assert torch.load(last_checkpoint(), weights_only=True)["hyper_parameters"]["hidden_size"] == 4


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_a_table_without_model_flags_gets_its_tasks_defaults(task, capsys):
    """The regression table is the one where 64 units at lr 0.3 (classification's) diverged by step 8:
    300 cars with a model year and a text column, miles per gallon in its own units."""
    if task == "regression":
        load_script("tabular_defaults").make_cars(300).to_csv("t.csv", index=False)
    else:
        write_csv(Path("t.csv"), n=300)
    assert fit("--data.dataset", "t.csv", "--trainer.max_epochs", "5") == 0
    expected = {k.split(".")[1]: v for k, v in table_defaults(task).items() if k.startswith("model.")}
    hp = torch.load(last_checkpoint(), weights_only=True)["hyper_parameters"]
    assert hp["task"] == task and {k: hp[k] for k in expected} == expected
    config = yaml.safe_load(Path("runs/torchtwolayer/version_0/config.yaml").read_text())["model"]
    assert {k: config[k] for k in expected} == expected  # the run's config says what it trained with
    assert fit("--data.dataset", "t.csv", "--trainer.max_epochs", "5", "--model.lr", "0.01") == 0  # a flag wins
    hp = torch.load(last_checkpoint(), weights_only=True)["hyper_parameters"]
    assert hp["lr"] == 0.01 and hp["hidden_size"] == expected["hidden_size"]
    if task == "regression":  # classification's settings on this table: refused for divergence
        assert fit("--data.dataset", "t.csv", *(f"--{k}={v}" for k, v in table_defaults("binary").items()
                                                if k.startswith("model."))) == 2  # fmt: skip
        assert "training diverged by step" in capsys.readouterr().err


def test_compat_reads_the_launchers_start_method():
    """The one private Lightning attribute the package reads: this fails loudly when an upgrade moves it."""
    from lightning.pytorch import Trainer

    from torchtwolayer.lightning.compat import launcher_start_method

    trainer = Trainer(strategy="ddp_spawn", accelerator="cpu", devices=2, logger=False)
    assert launcher_start_method(trainer) == "spawn"
    assert launcher_start_method(Trainer(accelerator="cpu", devices=1, logger=False)) is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "--ckpt_path", "x.ckpt", "--overwrite", "maybe"], "unrecognized arguments: maybe"),
        (["plot", "--nope"], "the following arguments are required: what"),
        (["check", "--m", "x"], "argument --m: invalid int value: 'x'"),
        (["playground", "--port", "x"], "argument --port: invalid int value: 'x'"),
    ],
    ids=["export", "plot", "check", "playground"],
)
def test_every_commands_parser_errors_in_one_line_without_the_usage(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"torchtwolayer: error: {message}; `torchtwolayer {argv[0]} --help` lists the options\n"
