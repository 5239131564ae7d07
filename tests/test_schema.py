"""The schema: what is learned from the training split, how features and targets are encoded and
decoded, and that its state is plain values. References are numpy computations in float64."""

import io
import logging

import numpy as np
import pytest
import torch

from torchtwolayer.data.schema import Schema, label_text
from torchtwolayer.data.tables import CSVFormatError, from_arrays


def table(**columns):
    return from_arrays({k: np.asarray(v) for k, v in columns.items()})


def fitted(data, features, target, rows=None, n_train=None, **options):
    schema = Schema(features, target, **options)
    y = schema.fit_target(data)
    X = schema.fit_transform(data, rows, n_train).X
    return schema, X, y


def reloaded(schema):
    """The schema after a trip through ``torch.save`` and ``torch.load(weights_only=True)``."""
    buffer = io.BytesIO()
    torch.save({"schema": schema.state_dict()}, buffer)
    buffer.seek(0)
    return Schema.from_state(torch.load(buffer, weights_only=True)["schema"])


IRIS = table(
    sepal=[5.1, 7.0, 6.3, 4.9, 6.4, 5.8],
    petal=[1.4, 4.7, 6.0, 1.4, 4.5, 5.1],
    species=["setosa", "versicolor", "virginica", "setosa", "versicolor", "virginica"],
)


def test_string_classes_come_back_as_the_files_own_values():
    schema, _, y = fitted(IRIS, ["sepal", "petal"], "species")
    assert schema.task == "multiclass" and schema.classes == ["setosa", "versicolor", "virginica"]
    assert y.tolist() == [0, 1, 2, 0, 1, 2]
    A2 = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    out = reloaded(schema).decode(A2)
    assert list(out) == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert out["prediction"].tolist() == ["setosa", "virginica"]
    np.testing.assert_array_equal(out["p_virginica"], np.float32([0.1, 0.8]))


@pytest.mark.parametrize(
    "values,names",
    [
        ([1234567, 1234568], ["p_1234567", "p_1234568"]),  # f"p_{c:g}" gave p_1.23457e+06 twice
        ([0.1, 0.1000001], ["p_0.1", "p_0.1000001"]),  # and p_0.1 twice
        ([2**60, 2**60 + 1], [f"p_{2**60}", f"p_{2**60 + 1}"]),  # exact beyond float64's integers
        ([True, False], ["p_false", "p_true"]),
        (["b", "a"], ["p_a", "p_b"]),
    ],
)
def test_probability_columns_are_named_exactly_and_distinctly(values, names):
    data = table(x=[0.0, 1.0, 2.0, 3.0], y=values * 2)
    schema, _, _ = fitted(data, ["x"], "y")
    assert schema.task == "binary"
    out = reloaded(schema).decode(torch.tensor([[0.2], [0.9]]))
    assert list(out)[1:] == names
    assert out["prediction"].tolist() == sorted(values)
    assert [type(v) for v in out["prediction"]] == [type(values[0])] * 2


@pytest.mark.parametrize(
    "y,task,classes",
    [
        ([0, 1, 2, 0, 1, 2], "multiclass", [0, 1, 2]),
        ([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], "multiclass", [1.0, 2.0, 3.0]),
        ([0.5, 1.5, 2.5, 0.5, 1.5, 2.5], "regression", None),
        ([0.5, 1.5, 0.5, 1.5, 0.5, 1.5], "binary", [0.5, 1.5]),
        ([0, 1, 2, 3, 4, 5], "regression", None),  # more than max_classes=4 integers
        (["a", "b", "c", "d", "a", "b"], "multiclass", ["a", "b", "c", "d"]),  # text: classes (up to max_classes here)
        ([True, False, True, False, True, False], "binary", [False, True]),
    ],
)
def test_task_inference(y, task, classes):
    schema = Schema(["x"], "y", max_classes=4)
    schema.fit_target(table(x=np.arange(6.0), y=y))
    assert (schema.task, schema.classes) == (task, classes)


def test_statistics_come_from_the_training_rows_in_float64():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=200) * 1e3 + 1e4).astype(np.float32)
    data = table(x=x, y=rng.integers(0, 2, 200))
    rows = rng.permutation(200)
    schema, X, _ = fitted(data, ["x"], "y", rows=rows, n_train=150)
    train = x[rows[:150]].astype(np.float64)
    assert schema.columns[0].mean == pytest.approx(train.mean(), rel=1e-15)
    assert schema.columns[0].std == pytest.approx(train.std(), rel=1e-12)
    expected = (x[rows] - np.float32(train.mean())) / np.float32(train.std())
    np.testing.assert_array_equal(X[:, 0], expected)  # rows in the order given


def test_a_constant_column_standardises_to_exactly_zero(caplog):
    """0.1 is 0.100000001490116 in float32; a float32 mean was 0.10000001639 and the old clamp
    of the deviation to 1e-12 turned the column into ±1.5e4."""
    data = table(a=np.full(1000, 0.1, dtype=np.float32), b=np.arange(1000.0), y=np.arange(1000) % 2)
    with caplog.at_level(logging.WARNING):
        schema, X, _ = fitted(data, ["a", "b"], "y")
    assert (X[:, 0] == 0).all()
    assert schema.columns[0].mean == float(np.float32(0.1)) and schema.columns[0].std == 1.0
    assert "constant columns ['a']" in caplog.text
    new = schema.transform(table(a=np.float32([0.1, 1.1]), b=[0.0, 1.0])).X
    np.testing.assert_allclose(new[:, 0], [0, 1])  # a new value is its distance from the constant


def test_categories_come_from_the_training_rows_and_unseen_ones_are_zeros(caplog):
    data = table(
        size=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        colour=["red", "blue", "red", "green", "blue", "purple"],
        y=[0, 1, 0, 1, 0, 1],
    )
    rows = np.array([0, 1, 2, 3, 4, 5])
    schema = Schema(["size", "colour"], "y")
    schema.fit_target(data)
    with caplog.at_level(logging.WARNING):
        X, unseen_rows, unseen = schema.fit_transform(data, rows, 4)
    assert schema.input_names == ["size", "colour=blue", "colour=green", "colour=red"]
    np.testing.assert_array_equal(X[:, 1:], [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert (unseen_rows, unseen) == (1, {"colour": 1})
    assert "1 of 6 rows have a category not seen in training" in caplog.text
    assert schema.transform(data, rows[:4]).unseen_rows == 0  # found per call, not kept from the last one
    state = schema.state_dict()
    assert state["x_mean"][1:] == [0.0, 0.0, 0.0] and state["x_std"][1:] == [1.0, 1.0, 1.0]


def test_integer_columns_named_categorical_are_one_hot_encoded():
    data = table(code=[10, 20, 10, 30], x=[0.0, 1.0, 2.0, 3.0], y=[0, 1, 0, 1])
    schema, X, _ = fitted(data, ["x", "code"], "y", categorical=["code"])
    assert schema.input_names == ["x", "code=10", "code=20", "code=30"]
    np.testing.assert_array_equal(X[:, 1:].argmax(1), [0, 1, 0, 2])
    with pytest.raises(CSVFormatError, match="'code' has 3 distinct values in the training split, above"):
        fitted(data, ["x", "code"], "y", categorical=["code"], max_categories=2)


def test_median_imputation_is_learned_on_training_rows_and_applied_to_new_data():
    x = np.array([1.0, np.nan, 3.0, 10.0, np.nan, 100.0])
    colour = np.array(["r", None, "g", "r", "g", None], dtype=object)
    data = table(x=x, colour=colour, y=[0, 1, 0, 1, 0, 1])
    with pytest.raises(CSVFormatError, match=r"missing values in 'x' \(2 cells, first on row 2\), 'colour'"):
        fitted(data, ["x", "colour"], "y")
    schema, X, _ = fitted(data, ["x", "colour"], "y", rows=np.arange(6), n_train=4, impute="median")
    median = np.nanmedian(x[:4])  # the training rows only: 3.0, not 6.5
    assert schema.columns[0].fill == median == 3.0
    filled = np.where(np.isnan(x), median, x)
    np.testing.assert_allclose(X[:, 0], (filled - filled[:4].mean()) / filled[:4].std(), rtol=1e-6)
    assert schema.input_names[1:] == ["colour=g", "colour=r", "colour=<missing>"]
    np.testing.assert_array_equal(X[:, 3], [0, 1, 0, 0, 0, 1])
    again = reloaded(schema).transform(table(colour=colour, x=x)).X  # other column order
    np.testing.assert_array_equal(again, X)


def test_columns_are_matched_by_name_and_missing_ones_refused():
    schema, X, _ = fitted(IRIS, ["sepal", "petal"], "species")
    shuffled = table(petal=[1.4, 4.7], extra=["u", "v"], sepal=[5.1, 7.0])
    np.testing.assert_array_equal(schema.transform(shuffled).X, X[:2])
    with pytest.raises(CSVFormatError, match=r"feature columns \['sepal'\] not found"):
        schema.transform(table(petal=[1.0]))


def test_regression_target_is_standardised_with_training_rows_and_decoded_in_its_units():
    y = np.array([10.0, 20.0, 30.0, 1000.0])
    schema = Schema(["x"], "y", task="regression")
    values = schema.fit_target(table(x=np.arange(4.0), y=y))
    schema.fit_target_scale(values[:3])
    assert (schema.y_mean, schema.y_std) == (20.0, pytest.approx(np.std([10.0, 20.0, 30.0])))
    Y = schema.encode(values)
    assert Y.dtype == torch.float32
    back = schema.decode(Y[:, None])["prediction"]
    np.testing.assert_allclose(back, y, rtol=1e-6)


def test_a_class_unknown_to_the_checkpoint_is_an_error():
    schema, _, _ = fitted(IRIS, ["sepal", "petal"], "species")
    other = table(sepal=[1.0], petal=[1.0], species=["rosa"])
    with pytest.raises(ValueError, match=r"target values \['rosa'\] were not seen in training"):
        reloaded(schema).target_values(other)


def test_state_is_plain_values_and_version_1_states_load():
    schema, _, _ = fitted(IRIS, ["sepal", "petal"], "species", impute="median")
    state = schema.state_dict()

    def plain(v):
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        if isinstance(v, list):
            return all(plain(x) for x in v)
        return v is None or type(v) in (str, int, float, bool)

    assert plain(state)
    old = {"feature_names": ["a", "b"], "target_name": "y", "task": "binary", "classes": [0.0, 1.0],
           "x_mean": [1.0, 2.0], "x_std": [2.0, 4.0], "y_mean": 0.0, "y_std": 1.0}  # fmt: skip
    v1 = Schema.from_state(old)
    np.testing.assert_allclose(v1.transform(table(a=[3.0], b=[2.0])).X, [[1.0, 0.0]])
    assert list(v1.decode(torch.tensor([[0.9]]))) == ["prediction", "p_0.0", "p_1.0"]


def test_label_text():
    assert [label_text(v) for v in (True, np.bool_(False), 0.1, np.float64(2.5), 3, "x")] == [
        "true", "false", "0.1", "2.5", "3", "x",
    ]  # fmt: skip


# A state written by the schema before it was split into a target and a feature part (commit dde1679):
# checkpoints made then must load, transform and save back the same.
STATE_BEFORE_THE_SPLIT = {
    "version": 2, "feature_names": ["size", "colour"],
    "input_names": ["size", "colour=blue", "colour=red", "colour=<missing>"],
    "columns": [
        {"name": "size", "kind": "numeric", "mean": 3.0, "std": 1.4142135623730951, "fill": 3.0, "categories": [],
         "missing_category": False},
        {"name": "colour", "kind": "categorical", "mean": 0.0, "std": 1.0, "fill": None,
         "categories": ["blue", "red"], "missing_category": True},
    ],
    "x_mean": [3.0, 0.0, 0.0, 0.0], "x_std": [1.4142135623730951, 1.0, 1.0, 1.0], "impute": "median",
    "standardize": True, "target_name": "species", "task": "multiclass", "classes": ["a", "b", "c"],
    "y_mean": 0.0, "y_std": 1.0,
}  # fmt: skip


def test_a_state_from_before_the_split_loads_and_saves_back_identical():
    schema = Schema.from_state(STATE_BEFORE_THE_SPLIT)
    assert schema.state_dict() == STATE_BEFORE_THE_SPLIT
    data = table(
        size=np.array([1.0, 2.0, np.nan, 4.0, 5.0]),
        colour=np.array(["red", "blue", "red", None, "red"], dtype=object),
        species=["a", "b", "a", "b", "c"],
    )
    X = schema.transform(data).X
    np.testing.assert_allclose(X[:, 0], [-(2**0.5), -(0.5**0.5), 0.0, 0.5**0.5, 2**0.5], rtol=1e-6)  # NaN → median 3
    np.testing.assert_array_equal(X[:, 1:], [[0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0]])
    assert schema.target_values(data).tolist() == [0, 1, 0, 1, 2]


def test_blank_cells_in_many_columns_name_a_few_and_count_the_rest():
    columns = {f"column_{j}": np.array([1.0, np.nan, 3.0]) for j in range(30)}
    with pytest.raises(CSVFormatError) as error:
        fitted(table(**columns, y=[0, 1, 0]), list(columns), "y")
    message = str(error.value)
    assert "'column_4' (1 cell, first on row 2) and 25 more columns;" in message
    assert "column_5'" not in message and "\n" not in message and len(message) < 400
