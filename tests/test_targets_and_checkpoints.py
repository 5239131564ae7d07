"""Targets the schema refuses or notes (issue 21), damaged checkpoint states, and the training file's fingerprint."""

import hashlib
import logging
import unicodedata
from contextlib import chdir

import numpy as np
import pytest
import torch
from helpers import QUIET, fit, last_checkpoint, write_csv

from torchtwolayer.checkpoint_file import DATA_STATE_KEY
from torchtwolayer.commands import main
from torchtwolayer.data.module import TwoLayerDataModule
from torchtwolayer.data.schema import Schema
from torchtwolayer.data.tables import CSVFormatError, from_arrays

ONE_TEXT_CELL = [str(v) for v in range(150)] * 2
ONE_TEXT_CELL[41] = "n/a?"

# (target values, task asked, what the message must hold)
REFUSED_TARGETS = {
    "numbers with a few text cells": (
        ["0", "1", "2", "cat", "1", "0", "dog", "2"], "auto",
        ["the target 'y' holds numbers but 2 text cells ['cat', 'dog'] on rows [4, 7]", "--data.task multiclass"],
    ),
    "one text cell among 300 numbers": (
        ONE_TEXT_CELL, "auto", ["holds numbers but 1 text cell ['n/a?'] on row [42];"],
    ),
    "the same, asked to be a regression": (
        ["1.5", "2.5", "x", "4.5"], "regression", ["holds numbers but 1 text cell ['x'] on row [3];"],
    ),
    "more classes than a tenth of the rows": (
        [f"id{i}" for i in range(300)], "auto",
        ["has 300 distinct values in 300 labelled rows", "use --data.task regression", "--data.target"],
    ),
    "an integer id asked to be classes": (
        list(range(300)), "multiclass", ["has 300 distinct values in 300 labelled rows"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED_TARGETS)
def test_targets_that_cannot_be_classes_are_refused_naming_column_rows_and_values(case):
    y, task, expected = REFUSED_TARGETS[case]
    table = from_arrays({"x": np.arange(len(y), dtype=np.float64), "y": np.asarray(y)}, "data.csv")
    with pytest.raises(CSVFormatError) as error:
        Schema(["x"], "y", task=task).fit_target(table)
    message = str(error.value)
    assert message.startswith("data.csv: ") and "\n" not in message
    for part in expected:
        assert part in message


ACCEPTED_TARGETS = {
    "text labels that look like numbers, on purpose": (["0", "1", "2", "cat"] * 5, "multiclass", 4),
    "a few classes in few rows": (["a", "b", "c"] * 3, "auto", 3),
    "20 classes (max_classes) in 40 rows": ([f"c{i}" for i in range(20)] * 2, "auto", 20),
    "mostly text with a number among them": (["yes", "no", "1"] * 4, "auto", 3),
}


@pytest.mark.parametrize("case", ACCEPTED_TARGETS)
def test_targets_still_accepted(case):
    y, task, n_classes = ACCEPTED_TARGETS[case]
    table = from_arrays({"x": np.arange(len(y), dtype=np.float64), "y": np.asarray(y)})
    schema = Schema(["x"], "y", task=task)
    schema.fit_target(table)
    assert len(schema.classes) == n_classes


@pytest.mark.parametrize(
    ("labels", "named"),
    [
        (["yes", "yes ", "no"] * 4, "'yes' and 'yes '"),
        (["caf\u00e9", unicodedata.normalize("NFD", "caf\u00e9"), "tea"] * 4, "'cafe\\u0301' and 'caf\\xe9'"),
    ],
)
def test_labels_equal_but_for_spaces_or_normalisation_get_a_note(labels, named, caplog):
    table = from_arrays({"x": np.arange(len(labels), dtype=np.float64), "y": np.asarray(labels)})
    schema = Schema(["x"], "y")
    with caplog.at_level(logging.WARNING):
        schema.fit_target(table)
    assert len(schema.classes) == 3  # kept apart: the note says so
    assert "differ only by surrounding spaces or Unicode normalisation" in caplog.text and named in caplog.text


def test_distinct_labels_get_no_note(caplog):
    table = from_arrays({"x": np.arange(6.0), "y": np.asarray(["a", "b", "c"] * 2)})
    with caplog.at_level(logging.WARNING):
        Schema(["x"], "y").fit_target(table)
    assert "Unicode" not in caplog.text


# ------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint trained on a 3-feature CSV in its own folder, and the CSV."""
    root = tmp_path_factory.mktemp("trained")
    csv = write_csv(root / "train.csv", n=60)
    with chdir(root):
        assert fit("--data.dataset", str(csv), "--trainer.max_steps", "4") == 0
    return last_checkpoint(root / "runs").resolve(), csv


def edited(trained, tmp_path, data=None, hyper=None, name="edited.ckpt"):
    """A copy of the trained checkpoint, its data state changed by ``data(state)``, hyperparameters by ``hyper``."""
    ckpt = torch.load(trained[0], map_location="cpu", weights_only=True)
    if data is not None:
        data(ckpt[DATA_STATE_KEY])
    if hyper is not None:
        hyper(ckpt["datamodule_hyper_parameters"])
    torch.save(ckpt, tmp_path / name)
    return tmp_path / name


def setter(key, value):
    def edit(state):
        target, *path = key.split(".")
        *parents, last = [target, *path]
        node = state
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is DELETE:
            del node[last]
        else:
            node[int(last) if isinstance(node, list) else last] = value

    return edit


DELETE = object()
# (field edited, new value, the field the message names)
DAMAGED = {
    "a field deleted": ("y_std", DELETE, "no field 'y_std'"),
    "a column renamed": ("columns.1.name", "x2", "field 'columns'"),
    "text for a number": ("columns.0.mean", "evil", "field 'columns[0].mean' should be a finite number, got 'evil'"),
    "a zero scale": ("columns.2.std", 0.0, "field 'columns[2].std' should be a number above 0"),
    "a zero target scale": ("y_std", 0, "field 'y_std' should be a number above 0"),
    "an input scale of NaN": ("x_std.1", float("nan"), "field 'x_std[1]' should be a finite number"),
    "three classes for binary": ("classes", [0, 1, 2], "field 'classes' should be a list of two classes"),
    "an unknown task": ("task", "banana", "field 'task' should be one of"),
    "an unknown impute": ("impute", "mean", "field 'impute'"),
    "a numeric column made categorical": ("columns.2.kind", "categorical", "field 'x_mean' should be a list of 2"),
    "fewer inputs than the network's": ("x_mean", [0.0, 0.0], "field 'x_mean' should be a list of 3 values"),
    "a column without fields": ("columns.0", {"name": "f1"}, "field 'columns[0]' should be the fields"),
    "a damaged fingerprint": ("fingerprint.size", "big", "fingerprint field 'size'"),
}


@pytest.mark.parametrize("case", DAMAGED)
def test_a_damaged_schema_state_is_named_as_such(case, trained, tmp_path):
    key, value, named = DAMAGED[case]
    path = edited(trained, tmp_path, data=setter(key, value))
    with pytest.raises(ValueError) as error:
        TwoLayerDataModule(str(trained[1]), schema_from=str(path))
    message = str(error.value)
    assert "the checkpoint is damaged" in message and named in message and "\n" not in message


def test_an_unknown_schema_version_is_refused(trained, tmp_path):
    path = edited(trained, tmp_path, data=setter("version", 99))
    with pytest.raises(ValueError, match="schema has version 99, which this torchtwolayer does not read"):
        TwoLayerDataModule(str(trained[1]), schema_from=str(path))
    with pytest.raises(ValueError, match="version 99"):
        Schema.from_state(torch.load(path, weights_only=True)[DATA_STATE_KEY])


def test_fit_stores_the_training_files_size_and_sha256(trained):
    stored = torch.load(trained[0], weights_only=True)[DATA_STATE_KEY]["fingerprint"]
    data = trained[1].read_bytes()
    assert stored == {"path": str(trained[1].resolve()), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


SECRET = "root:x:0:0:SECRET-LINE:/root:/bin/bash\n"


@pytest.mark.parametrize("fingerprint", ["kept", "deleted"])
def test_a_checkpoint_naming_another_file_never_prints_its_lines(fingerprint, trained, tmp_path, capsys, caplog):
    secret = tmp_path / "passwd"
    secret.write_text(SECRET)
    drop = setter("fingerprint", DELETE) if fingerprint == "deleted" else None
    path = edited(trained, tmp_path, data=drop, hyper=setter("dataset", str(secret)))
    with chdir(tmp_path):
        assert main(["test", *QUIET, "--ckpt_path", str(path)]) != 0
    out = capsys.readouterr()
    said = out.out + out.err + caplog.text
    assert "SECRET" not in said and "root:x" not in said, said
    assert str(secret) in said and ("is not the file" in said or "cannot be read as the data" in said)


def test_a_checkpoint_without_a_fingerprint_still_scores_its_file_with_a_note(trained, tmp_path, capsys, caplog):
    path = edited(trained, tmp_path, data=setter("fingerprint", DELETE))
    with chdir(tmp_path), caplog.at_level(logging.WARNING):
        assert main(["validate", *QUIET, "--ckpt_path", str(path)]) == 0
    assert "written before checkpoints stored a fingerprint" in caplog.text + capsys.readouterr().err


def test_a_resumed_fit_on_a_changed_file_is_refused(trained, tmp_path, capsys):
    """The trained checkpoint moved onto a copy of its file (the same bytes, so its fingerprint holds;
    resumed on the unchanged copy, the fit runs), then a row appended to the copy: refused."""
    csv = tmp_path / "data.csv"
    csv.write_bytes(trained[1].read_bytes())
    path = edited(trained, tmp_path, data=setter("fingerprint.path", str(csv)), hyper=setter("dataset", str(csv)))
    with csv.open("a") as f:
        f.write("0.1,0.2,0.3,1\n")
    with chdir(tmp_path):
        assert fit("--ckpt_path", str(path), "--trainer.max_steps", "5") != 0
    err = capsys.readouterr().err
    assert f"{csv} is not the file" in err and "changed since (size or SHA-256)" in err
