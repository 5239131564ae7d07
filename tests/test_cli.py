"""The torchtwolayer command: CSV round trip, configs, resume, bad CSVs."""

import contextlib
import csv
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import QUIET, fit, last_checkpoint, weights, write_csv

from torchtwolayer.commands import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[str, Path]:
    """A checkpoint trained 20 steps on ``write_csv``'s 120 rows, and that file: shared, the tests only read them."""
    folder = tmp_path_factory.mktemp("trained")
    train = write_csv(folder / "train.csv")
    with contextlib.chdir(folder):
        assert fit("--data.dataset", str(train), "--trainer.max_steps", "20") == 0
        return str(last_checkpoint().resolve()), train


def test_csv_fit_test_predict_round_trip(tmp_path, capsys):
    """fit, test and predict (``python -m torchtwolayer`` itself: tests/test_check.py)."""
    train, new = (
        write_csv(tmp_path / "train.csv"),
        write_csv(tmp_path / "new.csv", n=37, seed=1, target=False),
    )
    assert fit("--data.dataset", str(train), "--data.target", "label", "--data.test_fraction", "0.2",
               "--trainer.max_steps", "30", "--model.hidden_size", "8") == 0  # fmt: skip
    assert "val   loss" in capsys.readouterr().out
    ckpt = str(last_checkpoint())
    assert main(["test", *QUIET, "--ckpt_path", ckpt, "--data.dataset", str(train), "--data.test_fraction", "0.2"]) == 0
    assert "test/acc" in capsys.readouterr().out
    assert main(["predict", *QUIET, "--ckpt_path", ckpt, "--data.dataset", str(new), "--output", "preds.csv"]) == 0
    assert "Wrote 37 predictions to preds.csv" in capsys.readouterr().out
    lines = Path("preds.csv").read_text().splitlines()
    assert lines[0] == "prediction,p_0,p_1"
    assert len(lines) == 1 + 37
    p0, p1 = (float(v) for v in lines[1].split(",")[1:])
    assert p0 + p1 == pytest.approx(1.0, abs=1e-6)


def test_predict_refuses_to_overwrite_and_picks_a_new_default_name(trained, capsys):
    ckpt, train = trained
    Path("mine.csv").write_text("precious\n")
    args = ["predict", *QUIET, "--ckpt_path", ckpt, "--data.dataset", str(train)]
    for keep in ([], ["--overwrite", "false"], ["--overwrite=false"]):
        assert main([*args, "--output", "mine.csv", *keep]) == 2
        assert "already exists" in capsys.readouterr().err
        assert Path("mine.csv").read_text() == "precious\n"
    for replace in (["--overwrite"], ["--overwrite", "true"], ["--overwrite=true"]):  # a switch; `true` still read
        Path("mine.csv").write_text("precious\n")
        assert main([*args, "--output", "mine.csv", *replace]) == 0
        assert Path("mine.csv").read_text().startswith("prediction,p_0,p_1\n")
    assert main(args) == 0 and main(args) == 0
    assert sorted(p.name for p in Path("predictions").iterdir()) == ["train-1.csv", "train.csv"]


def test_predictions_on_the_training_file_match_the_model(tmp_path):
    train = write_csv(tmp_path / "train.csv")
    assert fit("--data.dataset", str(train), "--trainer.max_steps", "50", "--data.val_fraction", "0") == 0
    ckpt = last_checkpoint()
    assert main(["predict", *QUIET, "--ckpt_path", str(ckpt), "--data.dataset", str(train), "--output", "p.csv"]) == 0
    from torchtwolayer.data.module import TwoLayerDataModule
    from torchtwolayer.lightning.module import TwoLayerModule

    model = TwoLayerModule.load_from_checkpoint(ckpt, weights_only=True)
    dm = TwoLayerDataModule(str(train))
    dm.load_state_dict(torch.load(ckpt, weights_only=True)["TwoLayerDataModule"])
    X, _ = dm.tensors("predict")
    p1 = model(X)[:, 0].sigmoid()  # the module gives logits, as TwoLayerNet
    written = [float(line.split(",")[2]) for line in Path("p.csv").read_text().splitlines()[1:]]
    torch.testing.assert_close(torch.tensor(written, dtype=torch.float64), p1.double(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("config", ["flower.yaml", "csv.yaml"])
def test_example_configs_run(config, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    import tempfile

    with tempfile.TemporaryDirectory() as runs:
        args = ["fit", "--config", f"torchtwolayer/configs/{config}", *QUIET, "--trainer.default_root_dir", runs,
                "--trainer.logger.init_args.save_dir", runs, "--trainer.max_steps", "20"]  # fmt: skip
        assert main(args) == 0
    assert "Finished after 20 steps" in capsys.readouterr().out


def test_print_config_shows_the_defaults(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "--print_config"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for line in ("hidden_size: 4", "lr: 1.2", "dataset: planar", "max_steps: 10000", "batch_size: null"):
        assert line in out


def test_resume_continues_where_it_stopped():
    base = ["--trainer.max_steps"]
    assert fit(*base, "30", "--data.full_batch_steps", "5") == 0
    first = last_checkpoint()
    assert fit(*base, "60", "--data.full_batch_steps", "5", "--ckpt_path", str(first)) == 0
    resumed = last_checkpoint()
    assert torch.load(resumed, weights_only=True)["global_step"] == 60
    assert fit(*base, "60", "--data.full_batch_steps", "5") == 0
    straight = last_checkpoint()
    for k, v in weights(straight).items():
        torch.testing.assert_close(weights(resumed)[k], v, rtol=0, atol=0)


def test_validate_runs_on_a_checkpoint(trained, capsys):
    ckpt, train = trained
    assert main(["validate", *QUIET, "--ckpt_path", ckpt, "--data.dataset", str(train)]) == 0
    out = capsys.readouterr().out
    assert "val/acc" in out and "val/loss" in out


def write_iris(path, n=90, seed=0):
    """Species names as the target, a categorical colour, an id, a few blank cells and targets."""
    rng = np.random.default_rng(seed)
    species = ["setosa", "versicolor", "virginica"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "sepal", "petal", "colour", "species"])
        for i in range(n):
            k = i % 3
            sepal = "" if i % 17 == 5 else f"{rng.normal(5 + k, 0.3):.2f}"
            colour = "" if i % 19 == 7 else ["red", "blue", "green"][(k + (i % 5 == 0)) % 3]
            w.writerow([f"id{i}", sepal, f"{rng.normal(1 + 2 * k, 0.3):.2f}", colour, "" if i == 20 else species[k]])
    return path


def test_string_classes_categories_and_imputation_round_trip(tmp_path, caplog):
    """fit → predict: labels in the file's own values, columns matched by name, unseen categories
    and missing values handled as trained, rows without a target predicted too."""
    train = write_iris(tmp_path / "iris.csv")
    args = ["--data.dataset", str(train), "--data.features", "[sepal,petal,colour]", "--data.impute", "median"]
    with caplog.at_level(logging.WARNING):
        assert fit(*args, "--trainer.max_steps", "200", "--model.hidden_size", "8", "--model.lr", "0.5") == 0
    assert "columns ['id'] are not features" in caplog.text
    assert "1 of 90 rows have no value of the target 'species'" in caplog.text
    ckpt = last_checkpoint()
    state = torch.load(ckpt, weights_only=True)["TwoLayerDataModule"]
    assert state["classes"] == ["setosa", "versicolor", "virginica"] and state["task"] == "multiclass"
    assert state["input_names"] == ["sepal", "petal", "colour=blue", "colour=green", "colour=red", "colour=<missing>"]
    new = tmp_path / "new.csv"
    new.write_text(
        "colour,petal,note,sepal,species\n"  # another order, an extra column, the target kept
        "red,1.0,a,5.0,setosa\n"
        "purple,5.2,b,,\n"  # an unseen category, a missing number, no target
        "blue,3.1,c,6.0,virginica\n"
        ",4.9,d,7.1,x\n"  # a missing category; a target value never seen: ignored by predict
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        code = main(["predict", *QUIET, "--ckpt_path", str(ckpt), "--data.dataset", str(new), "--output", "p.csv"])
    assert code == 0
    assert "columns ['note'] are not features" in caplog.text
    assert "1 of 4 rows have a category not seen in training" in caplog.text
    rows = list(csv.reader(Path("p.csv").read_text().splitlines()))
    assert rows[0] == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert len(rows) == 1 + 4
    assert [r[0] for r in rows[1:]] == ["setosa", "virginica", "versicolor", "virginica"]
    assert all(abs(sum(map(float, r[1:])) - 1) < 1e-6 for r in rows[1:])


def test_predict_neither_needs_nor_checks_the_target(trained, tmp_path):
    ckpt, _ = trained
    one_class = tmp_path / "one.csv"  # the label column holds a single known class
    one_class.write_text("f1,f2,f3,label\n0.1,0.2,0.3,1\n-1,0.5,2,1\n")
    assert main(["predict", *QUIET, "--ckpt_path", ckpt, "--data.dataset", str(one_class), "--output", "a.csv"]) == 0
    assert len(Path("a.csv").read_text().splitlines()) == 3


def test_parquet_fit_test_and_predict(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "answer": y}), tmp_path / "d.parquet")
    data = ["--data.dataset", str(tmp_path / "d.parquet"), "--data.test_fraction", "0.2"]
    assert fit(*data, "--trainer.max_steps", "100", "--model.lr", "0.5") == 0
    ckpt = str(last_checkpoint())
    assert main(["test", *QUIET, "--ckpt_path", ckpt, *data]) == 0
    (tmp_path / "new").mkdir()
    pq.write_table(pa.table({"c": X[:5, 2], "b": X[:5, 1], "a": X[:5, 0]}), tmp_path / "new/part-0.parquet")
    assert (
        main(["predict", *QUIET, "--ckpt_path", ckpt, "--data.dataset", str(tmp_path / "new"), "--output", "p.csv"])
        == 0
    )
    lines = Path("p.csv").read_text().splitlines()
    assert lines[0] == "prediction,p_no,p_yes" and {line.split(",")[0] for line in lines[1:]} <= {"yes", "no"}
