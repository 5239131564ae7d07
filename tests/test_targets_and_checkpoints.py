"""Targets the schema refuses or notes (issue 21), damaged checkpoint states, and the training file's fingerprint."""

import logging
import unicodedata

import numpy as np
import pytest

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
