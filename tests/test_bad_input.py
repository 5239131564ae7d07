"""Table-driven: bad input across the CLI, CSV loading, the module and checkpoints gives a clear
error of the promised type, and creates or modifies no file. Through the ``torchtwolayer``
command, the same input exits with status 2 and one ``torchtwolayer: error: …`` line."""

import gzip
import os
import pickle
from argparse import ArgumentError
from pathlib import Path

import pytest
import torch
from helpers import QUIET, files_under, last_checkpoint, write_csv

from torchtwolayer import GradientDescent, TwoLayerNet
from torchtwolayer.commands import main
from torchtwolayer.data.tables import CSVFormatError
from torchtwolayer.lightning.checkpoints import load_checkpoint
from torchtwolayer.lightning.cli import lightning_main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint trained on a 3-feature CSV, in its own folder."""
    root = tmp_path_factory.mktemp("trained")
    csv = write_csv(root / "train.csv")
    lightning_main(["fit", *QUIET, "--data.dataset", str(csv), "--trainer.max_steps", "20",
                    "--trainer.default_root_dir", str(root / "runs"),
                    "--trainer.logger.init_args.save_dir", str(root / "runs")])  # fmt: skip
    return last_checkpoint(root / "runs")


# Each case is set up by ``case(tmp, trained)``, which writes its input files and returns the
# command's arguments (a list) or the Python call (a function) that must fail; the files present
# after the set-up must stay untouched.
def cli(*args):
    return lambda tmp, trained: ["fit", *QUIET, "--trainer.max_steps", "5", *args]


def csv_fit(text, *args):
    def setup(tmp, trained):
        (tmp / "data.csv").write_text(text)
        return ["fit", *QUIET, "--trainer.max_steps", "5", "--data.dataset", str(tmp / "data.csv"), *args]

    return setup


def file_fit(name, data, *args):
    """A data file of raw bytes (or made by a function of the folder), then ``fit`` on it."""

    def setup(tmp, trained):
        path = tmp / name
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        return ["fit", *QUIET, "--trainer.max_steps", "5", "--data.dataset", str(path), *args]

    return setup


def module(thunk):
    return lambda tmp, trained: thunk


def predict(make_ckpt, *args, text=None):
    """``make_ckpt(tmp, trained)`` returns the checkpoint path to predict with; ``text``: the new file."""

    def setup(tmp, trained):
        ckpt = make_ckpt(tmp, trained())
        new = write_csv(tmp / "new.csv", n=10, target=False)
        if text is not None:
            new.write_text(text)
        return ["predict", *QUIET, "--ckpt_path", str(ckpt), "--data.dataset", str(new), *args]

    return setup


def truncated(tmp, trained):
    data = Path(trained).read_bytes()
    (tmp / "cut.ckpt").write_bytes(data[: len(data) // 2])
    return tmp / "cut.ckpt"


def foreign(tmp, trained):
    torch.save({"state_dict": {"weight": torch.ones(1)}, "hyper_parameters": {"lr": 1}}, tmp / "other.ckpt")
    return tmp / "other.ckpt"


def not_a_checkpoint(tmp, trained):
    torch.save({"a": 1}, tmp / "plain.pt")
    return tmp / "plain.pt"


def fifo(path):
    os.mkfifo(path)


def edited(change):
    """The trained checkpoint with ``change(ckpt)`` applied, saved as a new file."""

    def make(tmp, trained):
        ckpt = torch.load(trained, weights_only=True)
        change(ckpt)
        torch.save(ckpt, tmp / "edited.ckpt")
        return tmp / "edited.ckpt"

    return make


class Payload:
    """Unpickling this would run ``touch PWNED``: the file test proves it never ran."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def malicious(tmp, trained):
    ckpt = torch.load(trained, weights_only=True)
    ckpt["callbacks"] = Payload()
    with open(tmp / "evil.ckpt", "wb") as f:
        pickle.dump(ckpt, f)
    return tmp / "evil.ckpt"


def garbage(name):
    """A file of garbage named ``name``; the checkpoint is then given as ``./name``."""

    def make(tmp, trained):
        (tmp / name).write_bytes(b"not a checkpoint at all")
        return f"./{name}"

    return make


def evaluate(command, *args):
    """``command`` (validate, test, plot boundary, …) with the trained checkpoint and ``args``."""

    def setup(tmp, trained):
        return [*command.split(), *([] if command == "plot boundary" else QUIET), "--ckpt_path", str(trained()), *args]

    return setup


def ckpt_by(how):
    """A damaged checkpoint named by ``how``: a --config file, the abbreviated --ckpt, or ``last``."""

    def setup(tmp, trained):
        bad = truncated(tmp, trained())
        new = write_csv(tmp / "new.csv", n=10, target=False)
        given = {
            "config": ["--config", str(tmp / "c.yaml")],
            "abbreviated": ["--ckpt", str(bad)],
            "last keyword": ["--ckpt_path", "last"],  # a file named last beside it is not read
        }[how]
        (tmp / "c.yaml").write_text(f"ckpt_path: {bad}\n")
        (tmp / "last").write_bytes(b"garbage")
        return ["predict", *QUIET, *given, "--data.dataset", str(new)]

    return setup


def metrics(data):
    def setup(tmp, trained):
        (tmp / "run").mkdir()
        (tmp / "run" / "metrics.csv").write_bytes(data)
        return ["plot", "curves", str(tmp / "run")]

    return setup


def in_place(tensor_index):
    """GradientDescent made, then X (0) or Y (1) changed in place, then a step."""

    def call():
        X, Y = torch.randn(8, 2), torch.rand(8)
        gd = GradientDescent(TwoLayerNet(2, 3), X, Y, lr=0.1)
        (X, Y)[tensor_index].mul_(2)
        gd.step()

    return call


def descent(**kwargs):
    X, Y = torch.randn(8, 2), torch.rand(8)
    net = kwargs.pop("net", None) or TwoLayerNet(2, 3)
    return lambda: GradientDescent(net, X, Y, **{"lr": 0.1, **kwargs})


GOOD_HEADER = "a,b,label\n"
LONG_ROW = b"a,b,label\n1,2,0\n" + b"3," + b"x" * (1 << 21) + b",1\n"
CASES = [
    # CLI arguments
    ("hidden size 0", cli("--model.hidden_size", "0"), ValueError, "hidden_size must be a positive integer"),
    ("hidden size negative", cli("--model.hidden_size", "-3"), ValueError, "hidden_size must be a positive integer"),
    ("lr 0", cli("--model.lr", "0"), ValueError, "lr must be positive"),
    ("nesterov without momentum", cli("--model.nesterov", "true"), ValueError, "nesterov=True needs a momentum"),
    ("unknown data set", cli("--data.dataset", "spiral"), ValueError, "unknown data set 'spiral'"),
    (
        "fractions sum to 1",
        cli("--data.val_fraction", "0.6", "--data.test_fraction", "0.5"),
        ValueError,
        "must be below 1",
    ),
    ("negative fraction", cli("--data.val_fraction", "-0.1"), ValueError, "val_fraction must be in [0, 1)"),
    ("batch larger than data", cli("--data.batch_size", "5000"), ValueError, "larger than the 320 training rows"),
    ("negative batch", cli("--data.batch_size", "-1"), ValueError, "batch_size must be a positive"),
    ("too few samples", cli("--data.n_samples", "1"), ValueError, "n_samples must be at least 2"),
    ("unknown activation", cli("--model.activation", "gelu"), ArgumentError, "gelu; `torchtwolayer fit --help`"),
    ("unknown flag", cli("--model.hiden_size", "8"), ArgumentError, "unrecognized arguments: --model.hiden_size 8"),
    ("text for a number", cli("--model.lr", "fast"), ArgumentError, 'Parser key "model.lr": Expected a <class'),
    *[  # any flag, any spelling of a non-finite number: one line, before the parser prints its usage
        (f"{flag} {value}", cli(*form), ValueError, f"{flag} {value} is not a finite number")
        for flag in ("--model.lr", "--model.weight_decay", "--data.noise", "--trainer.gradient_clip_val")
        for value in ("nan", "inf", "-inf")
        for form in ([flag, value], [f"{flag}={value}"])
    ],
    # CSV files
    ("missing file", cli("--data.dataset", "nowhere.csv"), FileNotFoundError, "does not exist"),
    (
        "missing target",
        csv_fit("a,b\n1,2\n", "--data.target", "label"),
        CSVFormatError,
        "target column 'label' not found",
    ),
    ("duplicated column", csv_fit("a,label,label\n1,0,1\n"), CSVFormatError, "duplicated column names ['label']"),
    ("text column", csv_fit(GOOD_HEADER + "1,x,0\n2,3,1\n"), CSVFormatError, "column 'b' mixes numbers and text"),
    ("empty column", csv_fit(GOOD_HEADER + "1,,0\n2,,1\n"), CSVFormatError, "column 'b' is empty"),
    (
        "blank cells",
        csv_fit(GOOD_HEADER + "1,2,0\n2,,1\n3,4,0\n,5,1\n"),
        CSVFormatError,
        "missing values in 'a' (1 cell, first on row 4), 'b' (1 cell, first on row 2); remove or impute missing "
        "values: train with --data.impute median",
    ),
    ("NaN", csv_fit(GOOD_HEADER + "1,nan,0\n2,3,1\n"), CSVFormatError, "remove or impute missing"),
    ("inf", csv_fit(GOOD_HEADER + "1,inf,0\n2,3,1\n"), CSVFormatError, "column 'b' has an infinite value on row 1"),
    ("beyond float32", csv_fit(GOOD_HEADER + "1,2,0\n1e39,3,1\n"), CSVFormatError, "beyond float32's range"),
    (
        "single class",
        csv_fit(GOOD_HEADER + "1,2,1\n2,3,1\n3,1,1\n", "--data.task", "binary"),
        CSVFormatError,
        "single value",
    ),
    ("ragged row", csv_fit(GOOD_HEADER + "1,2,0\n2,3\n"), CSVFormatError, "line 3 has 2 fields"),
    ("empty file", csv_fit(""), CSVFormatError, "the file is empty"),
    ("header only", csv_fit(GOOD_HEADER), CSVFormatError, "no data rows"),
    ("no header", csv_fit("1,2,0\n3,4,1\n"), CSVFormatError, "the first line must be a header"),
    (
        "target as feature",
        csv_fit(GOOD_HEADER + "1,2,0\n2,3,1\n", "--data.features", "[a,label]"),
        CSVFormatError,
        "cannot also be a feature",
    ),
    (
        "unknown feature",
        csv_fit(GOOD_HEADER + "1,2,0\n2,3,1\n", "--data.features", "[zz]"),
        CSVFormatError,
        "feature columns ['zz'] not found",
    ),
    ("no features", csv_fit(GOOD_HEADER + "1,2,0\n", "--data.features", "[]"), ValueError, "is an empty list"),
    ("duplicated features", csv_fit(GOOD_HEADER + "1,2,0\n", "--data.features", "[a,a]"), ValueError, "more than once"),
    (
        "unknown categorical",
        csv_fit(GOOD_HEADER + "1,2,0\n2,3,1\n", "--data.categorical", "[zz]"),
        ValueError,
        "--data.categorical names ['zz'], which are not features",
    ),
    (
        "too many categories",
        csv_fit("a,c,label\n1,x,0\n2,y,1\n3,z,0\n4,w,1\n", "--data.max_categories", "2", "--data.val_fraction", "0"),
        CSVFormatError,
        "column 'c' has 4 distinct values in the training split, above --data.max_categories 2",
    ),
    (
        "continuous target as classes",
        csv_fit(GOOD_HEADER + "1,2,0.5\n2,3,1.25\n3,4,2\n", "--data.task", "multiclass"),
        CSVFormatError,
        "it is continuous, not classes. Use --data.task regression",
    ),
    (
        "text target regressed",
        csv_fit(GOOD_HEADER + "1,2,x\n2,3,y\n", "--data.task", "regression"),
        CSVFormatError,
        "regression needs numbers",
    ),
    ("dates", csv_fit("a,d,label\n1,2020-01-02,0\n2,2021-03-04,1\n"), CSVFormatError, "column 'd' holds date32"),
    ("semicolons", csv_fit("a;b;label\n1;2;0\n2;3;1\n"), CSVFormatError, "pass --data.delimiter ';'"),
    ("bad delimiter", cli("--data.delimiter", "ab"), ValueError, "delimiter must be one character"),
    ("directory", cli("--data.dataset", "."), CSVFormatError, "is a directory without .parquet files"),
    ("FIFO", file_fit("pipe.csv", fifo), CSVFormatError, "is a FIFO, not a regular file"),
    ("binary file", file_fit("data.csv", bytes(range(256)) * 8), CSVFormatError, "not a text file"),
    ("gzip named .csv", file_fit("data.csv", gzip.compress(b"a,label\n1,0\n")), CSVFormatError, "gzip-compressed"),
    ("UTF-16", file_fit("data.csv", "a,label\n1,0\n".encode("utf-16")), CSVFormatError, "UTF-16 text"),
    (
        "Latin-1",
        file_fit("data.csv", "name,a,label\ncaf\xe9,1,0\n".encode("latin-1")),
        CSVFormatError,
        "data.csv: not UTF-8 text (byte 0xe9",
    ),
    ("line over the block", file_fit("data.csv", LONG_ROW), CSVFormatError, "longer than the reader's 1 MiB block"),
    ("not Parquet", file_fit("data.parquet", b"a,label\n1,0\n"), CSVFormatError, "not a Parquet file"),
    ("negative noise", cli("--data.noise", "-0.1"), ValueError, "noise must be 0 or more"),
    # arrays given to TwoLayerNet
    ("X 1-D", module(lambda: TwoLayerNet(2, 3)(torch.ones(2))), ValueError, "X.reshape(1, -1)"),
    ("X 3-D", module(lambda: TwoLayerNet(2, 3)(torch.ones(2, 2, 2))), ValueError, "must be 2-D"),
    (
        "X wrong features",
        module(lambda: TwoLayerNet(2, 3).cost(torch.ones(4, 5), torch.ones(4))),
        ValueError,
        "expects n0 = 2",
    ),
    (
        "X NaN",
        module(lambda: TwoLayerNet(2, 3).cost(torch.tensor([[0.0, float("nan")]]), torch.ones(1))),
        ValueError,
        "NaN or infinite",
    ),
    ("X integer", module(lambda: TwoLayerNet(2, 3)(torch.ones(4, 2, dtype=torch.long))), TypeError, "floating-point"),
    (
        "X float64 for float32 net",
        module(lambda: TwoLayerNet(2, 3)(torch.ones(4, 2, dtype=torch.float64))),
        TypeError,
        "X.to(net.W1)",
    ),
    # checkpoints
    ("missing checkpoint", module(lambda: load_checkpoint("gone.ckpt")), FileNotFoundError, "does not exist"),
    ("truncated checkpoint", predict(truncated), ValueError, "cannot be read as a checkpoint"),
    ("not a checkpoint", predict(not_a_checkpoint), ValueError, "not a checkpoint written by torchtwolayer"),
    ("foreign checkpoint", predict(foreign), ValueError, "not of a torchtwolayer model"),
    (
        "other features",
        predict(lambda tmp, trained: trained, "--data.features", "[f1,f2]"),
        ValueError,
        "the checkpoint was trained with features ['f1', 'f2', 'f3'] but --data.features gives ['f1', 'f2']",
    ),
    (
        "predict file lacks a feature",
        predict(lambda tmp, trained: trained, text="f1,f2,label\n1,2,0\n"),
        CSVFormatError,
        "feature columns ['f3'] not found (the checkpoint's model was trained on them); the file has columns "
        "['f1', 'f2', 'label']",
    ),
    (
        "predict file with gaps, model without imputation",
        predict(lambda tmp, trained: trained, text="f1,f2,f3\n1,2,3\n1,,3\n"),
        CSVFormatError,
        "missing values in 'f2' (1 cell, first on row 2)",
    ),
    (
        "edited checkpoint: shape",
        predict(edited(lambda c: c["state_dict"].update({"net.W1": torch.zeros(5, 3)}))),
        ValueError,
        "net.W1 should have shape",
    ),
    (
        "edited checkpoint: missing key",
        predict(edited(lambda c: c["state_dict"].pop("net.b2"))),
        ValueError,
        "net.b2 should have shape (1,) but is missing",
    ),
    (
        "edited checkpoint: NaN weights",
        predict(edited(lambda c: c["state_dict"]["net.W2"].fill_(float("nan")))),
        ValueError,
        "holds NaN",
    ),
    ("malicious checkpoint", predict(malicious), ValueError, "it holds objects other than tensors"),
    ("checkpoint is a folder", predict(lambda tmp, trained: tmp), ValueError, "is a folder"),
    (
        "checkpoint is a FIFO",
        predict(lambda tmp, trained: fifo(tmp / "p.ckpt") or tmp / "p.ckpt"),
        ValueError,
        "not a regular file",
    ),
    ("checkpoint file named last", predict(garbage("last")), ValueError, "cannot be read as a checkpoint"),
    ("checkpoint through --config", ckpt_by("config"), ValueError, "cut.ckpt cannot be read as a checkpoint"),
    ("checkpoint through --ckpt", ckpt_by("abbreviated"), ValueError, "cut.ckpt cannot be read as a checkpoint"),
    ("--ckpt_path last without runs", ckpt_by("last keyword"), FileNotFoundError, "--ckpt_path last: no last.ckpt"),
    (
        "test --ckpt_path last without runs",
        lambda tmp, trained: ["test", *QUIET, "--ckpt_path", "last"],
        FileNotFoundError,
        "--ckpt_path last: no last.ckpt under runs/torchtwolayer",
    ),
    (
        "predict without a checkpoint",
        lambda tmp, trained: ["predict", *QUIET],
        ValueError,
        "predict needs a trained model",
    ),
    ("test without a test split", evaluate("test"), ValueError, "there is no test split"),
    (
        "predict --output is a folder",
        predict(lambda tmp, trained: trained, "--output", "."),
        IsADirectoryError,
        "--output . is a folder; give a file name in it, e.g. predictions.csv",
    ),
    (
        "prediction file exists",
        predict(lambda tmp, trained: trained, "--output", str(Path("precious.csv"))),
        FileExistsError,
        "already exists",
    ),
    # plot
    (
        "plot boundary over a file",
        evaluate("plot boundary", "--output", "precious.csv"),
        FileExistsError,
        "precious.csv already exists",
    ),
    (
        "plot boundary into a folder",
        evaluate("plot boundary", "--output", "."),
        IsADirectoryError,
        "--output . is a folder",
    ),
    (
        "plot curves: no step column",
        metrics(b"a,b\n1,2,3\nxx\n"),
        ValueError,
        "not a metrics.csv written by a run (no 'step' column)",
    ),
    ("plot curves: text value", metrics(b"step,train/loss\n1,abc\n"), ValueError, "could not convert string to float"),
    (
        "plot curves: binary",
        metrics(bytes(range(256))),
        ValueError,
        "metrics.csv is not a metrics.csv written by a run ('utf-8' codec",
    ),
    (
        "plot curves: cell over 131072",
        metrics(b"step,train/loss\n1," + b"9" * 140000 + b"\n"),
        ValueError,
        "field larger than field limit",
    ),
    ("plot curves: empty", metrics(b""), ValueError, "has no logged values yet"),
    # Lightning's MisconfigurationException
    ("max_steps -2", cli("--trainer.max_steps", "-2"), ValueError, "`max_steps` must be a non-negative integer or -1"),
    ("devices 0", cli("--trainer.devices", "0"), ValueError, "`Trainer(devices='0')` value is not a valid input"),
    *[  # (on a machine with a GPU, --trainer.accelerator gpu is valid: the case is about its absence)
        ("GPU without one", cli("--trainer.accelerator", "gpu"), ValueError, "No supported gpu backend found")
        for _ in range(not torch.cuda.is_available())
    ],
    # sizes that cannot be allocated: named before torch tries
    (
        "hidden size 1e12",
        cli("--model.hidden_size", "1000000000000"),
        ValueError,
        "n1=1000000000000, n2=1) needs 14.6 TiB",
    ),
    ("n_samples 1e11", cli("--data.n_samples", "100000000000"), ValueError, "--data.n_samples 100000000000 needs"),
    ("TwoLayerNet(2, 10**12)", module(lambda: TwoLayerNet(2, 10**12)), ValueError, "needs 14.6 TiB but cpu memory is"),
    # values that used to be accepted
    ("momentum 1", cli("--model.momentum", "1"), ValueError, "momentum must be in [0, 1)"),
    ("max_steps -1 and max_epochs -1", cli("--trainer.max_steps", "-1"), ValueError, "would train forever"),
    (
        "one-row regression",
        csv_fit("a,y\n1,2.5\n", "--data.task", "regression"),
        ValueError,
        "regression needs at least 2 training rows",
    ),
    ("GradientDescent lr inf", module(descent(lr=float("inf"))), TypeError, "lr must be a finite number, got inf"),
    ("GradientDescent lr string", module(descent(lr="0.1")), TypeError, "lr must be a finite number, got '0.1'"),
    ("GradientDescent momentum 1", module(descent(momentum=1.0)), ValueError, "momentum must be in [0, 1)"),
    (
        "GradientDescent on nn.Linear",
        module(descent(net=torch.nn.Linear(2, 1))),
        TypeError,
        "trains a TwoLayerNet, got Linear",
    ),
    ("GradientDescent after X changed in place", module(in_place(0)), ValueError, "changed in place"),
    ("GradientDescent after Y changed in place", module(in_place(1)), ValueError, "changed in place"),
    ("X sparse", module(lambda: TwoLayerNet(2, 3)(torch.ones(4, 2).to_sparse())), TypeError, "X.to_dense()"),
    (
        "Y sparse",
        module(lambda: TwoLayerNet(2, 3).cost(torch.ones(4, 2), torch.ones(4).to_sparse())),
        TypeError,
        "Y.to_dense()",
    ),
    ("X on meta", module(lambda: TwoLayerNet(2, 3)(torch.ones(4, 2, device="meta"))), TypeError, "use X.to(net.W1)"),
    (
        "NaN regression target",
        module(lambda: TwoLayerNet(2, 3, output="identity").cost(torch.ones(4, 2), torch.full((4,), float("nan")))),
        ValueError,
        "Y contains NaN",
    ),
    (
        "all-NaN softmax probabilities",
        module(lambda: TwoLayerNet(2, 3, 2, output="softmax").cost(torch.ones(4, 2), torch.full((4, 2), float("nan")))),
        ValueError,
        "must lie in [0, 1]",
    ),
]


@pytest.mark.parametrize("case,error,phrase", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(case, error, phrase, tmp_path, monkeypatch, capsys, request):
    """A Python call raises ``error`` with ``phrase``; a command (a list of arguments) exits with
    status 2 and one ``torchtwolayer: error: …`` line holding ``phrase`` (argument errors too: the
    parser's message, without its usage), without a traceback. Either way no file is created or modified."""
    monkeypatch.chdir(tmp_path)
    Path("precious.csv").write_text("the user's own file\n")
    call = case(tmp_path, lambda: request.getfixturevalue("trained"))
    before = files_under(tmp_path)
    if isinstance(call, list):
        status = main(call)
        err = capsys.readouterr().err
        assert status == 2 and phrase in err and "Traceback" not in err, err
        assert err.startswith("torchtwolayer: error: ") and err.count("\n") == 1, err  # one line, no usage
        assert "weights_only=False" not in err  # torch's advice is never passed on
    else:
        with pytest.raises(error) as info:
            call()
        assert phrase in str(info.value)
    assert files_under(tmp_path) == before  # nothing created, nothing modified
    assert Path("precious.csv").read_text() == "the user's own file\n"
