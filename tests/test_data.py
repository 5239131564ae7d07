"""The data module: stratified, reproducible splits; rows without a target; X in split order with
views for splits; only the columns used are read; CSV and Parquet give the same data."""

import logging

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from torchtwolayer.data.module import TwoLayerDataModule


def write(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def unbalanced(tmp_path, n=200):
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], [n * 7 // 10, n // 5, n - n * 7 // 10 - n // 5])
    rows = [(f"{v:.4f}", label) for v, label in zip(rng.normal(size=n), y, strict=True)]
    return write(tmp_path / "u.csv", ["x", "species"], rows), y


def test_classification_splits_are_stratified_and_reproducible(tmp_path):
    path, y = unbalanced(tmp_path)
    dm = TwoLayerDataModule(str(path), val_fraction=0.25, test_fraction=0.1, seed=3)
    counts = {k: np.bincount(dm.tensors(k)[1].long().numpy(), minlength=3) for k in ("train", "val", "test")}
    total = np.bincount(np.searchsorted(["a", "b", "c"], y), minlength=3)  # 140, 40, 20
    np.testing.assert_array_equal(counts["val"], [35, 10, 5])  # 25 % of each class
    np.testing.assert_array_equal(counts["test"], [14, 4, 2])
    np.testing.assert_array_equal(counts["train"], total - counts["val"] - counts["test"])
    again = TwoLayerDataModule(str(path), val_fraction=0.25, test_fraction=0.1, seed=3)
    assert torch.equal(again.X, dm.X) and torch.equal(again.Y, dm.Y)
    other = TwoLayerDataModule(str(path), val_fraction=0.25, test_fraction=0.1, seed=4)
    assert not torch.equal(other.X, dm.X)


def test_unstratified_split_that_misses_a_class_warns(tmp_path, caplog):
    rows = [(i, "b" if i in (3, 11) else "a") for i in range(20)]
    path = write(tmp_path / "rare.csv", ["x", "y"], rows)
    warned = {}
    for seed in range(30):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            TwoLayerDataModule(str(path), val_fraction=0.5, seed=seed, stratify=False)
        if "the training split holds 1 of the 2 classes" in caplog.text:
            warned[seed] = caplog.text
    assert warned  # some seeds put both rows of class b into validation...
    seed, text = next(iter(warned.items()))
    assert "Stratified splitting (--data.stratify true, the default) keeps every class in it" in text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        dm = TwoLayerDataModule(str(path), val_fraction=0.5, seed=seed)  # ...stratified splits never do
    assert "training split holds" not in caplog.text
    assert set(dm.tensors("train")[1].tolist()) == {0.0, 1.0}


def test_rows_without_a_target_are_left_out_with_a_note(tmp_path, caplog):
    path = write(tmp_path / "gaps.csv", ["x", "y"], [(1, 0), (2, ""), (3, 1), (4, 0), (5, ""), (6, 1)])
    with caplog.at_level(logging.WARNING):
        dm = TwoLayerDataModule(str(path), val_fraction=0)
    assert "2 of 6 rows have no value of the target 'y'" in caplog.text
    assert len(dm.X) == 4
    X, _ = dm.tensors("predict")  # the labelled rows, back in file order
    assert torch.allclose(dm.schema.raw_inputs(X)[:, 0], torch.tensor([1.0, 3.0, 4.0, 6.0]))


def test_splits_are_views_of_one_matrix(tmp_path):
    path, _ = unbalanced(tmp_path)
    dm = TwoLayerDataModule(str(path), val_fraction=0.2, test_fraction=0.2)
    base = dm.X.untyped_storage().data_ptr()
    for split in ("train", "val", "test"):
        assert dm.tensors(split)[0].untyped_storage().data_ptr() == base
    n = [len(dm.splits[s]) for s in ("train", "val", "test")]
    assert n == [120, 40, 40] and dm.X.is_contiguous() and dm.X.dtype == torch.float32


def test_only_the_feature_columns_are_read(tmp_path):
    rows = [(f"id-{i}", "", i * 0.5, i % 3, i % 2) for i in range(12)]
    path = write(tmp_path / "extra.csv", ["id", "empty", "f1", "f2", "label"], rows)
    dm = TwoLayerDataModule(str(path), features=["f1", "f2"], target="label")
    assert dm.n_features == 2 and dm.task == "binary"


def test_a_fitted_state_loaded_again_changes_nothing(tmp_path):
    path, _ = unbalanced(tmp_path)
    dm = TwoLayerDataModule(str(path))
    X = dm.X
    dm.load_state_dict(dm.state_dict())
    assert dm.X is X
    other = TwoLayerDataModule(str(path), seed=7)  # other training rows: other statistics
    dm.load_state_dict(other.state_dict())
    assert dm.X is None  # rebuilt with the loaded schema when next needed
    torch.testing.assert_close(dm.tensors("predict")[0], other.tensors("predict")[0])


def test_csv_parquet_and_a_directory_of_parquet_give_the_same_data(tmp_path):
    path, y = unbalanced(tmp_path, n=60)
    x = np.loadtxt(path, delimiter=",", skiprows=1, usecols=0)
    pq.write_table(pa.table({"x": x, "species": y}), tmp_path / "u.parquet")
    (tmp_path / "parts").mkdir()
    for i in range(3):
        part = slice(20 * i, 20 * (i + 1))
        pq.write_table(pa.table({"x": x[part], "species": y[part]}), tmp_path / f"parts/{i}.parquet")
    modules = [TwoLayerDataModule(str(p)) for p in (path, tmp_path / "u.parquet", tmp_path / "parts")]
    for dm in modules[1:]:
        assert torch.equal(dm.X, modules[0].X) and torch.equal(dm.Y, modules[0].Y)
        assert dm.schema.state_dict() == modules[0].schema.state_dict()  # (fingerprints differ: other files)


def test_built_in_sets_refuse_negative_noise():
    with pytest.raises(ValueError, match="noise must be 0 or more"):
        TwoLayerDataModule("moons", noise=-0.1)


def test_a_hold_out_file_does_not_say_rows_are_left_out_of_training(tmp_path, caplog):
    path = tmp_path / "holdout.csv"
    path.write_text("x,y\n" + "".join(f"{i},{'' if i == 3 else i % 2}\n" for i in range(10)))
    with caplog.at_level(logging.WARNING):
        dm = TwoLayerDataModule(str(path), holdout=True, batch_size=0)
    assert len(dm.tensors("test")[0]) == 9
    assert "1 of 10 rows have no value of the target 'y'; they are left out of evaluation" in caplog.text
    assert "training" not in caplog.text


def test_a_wide_csv_gives_every_column_in_order(tmp_path):
    """Per-column steps are linear (sets and dicts, not list lookups): 2 000 columns read as they are."""
    rng = np.random.default_rng(0)
    X = rng.integers(-50, 50, size=(30, 2000)).astype(np.float64)
    path = tmp_path / "wide.csv"
    header = ",".join([*(f"c{j}" for j in range(2000)), "y"])
    np.savetxt(path, np.column_stack([X, np.arange(30) % 2]), fmt="%d", delimiter=",", header=header, comments="")
    dm = TwoLayerDataModule(str(path), standardize=False, val_fraction=0.0, batch_size=0)
    assert dm.feature_names == [f"c{j}" for j in range(2000)]
    np.testing.assert_array_equal(dm.raw_split("train")[0].numpy(), X)


def test_evaluation_batches_bound_the_outputs_they_hold(tmp_path, monkeypatch):
    """Many classes get smaller evaluation batches: rows × classes stays within EVAL_OUTPUTS."""
    from torchtwolayer.core import tasks

    monkeypatch.setattr(tasks, "EVAL_OUTPUTS", 100)
    path = tmp_path / "classes.csv"
    path.write_text("x,y\n" + "".join(f"{i},c{i % 30}\n" for i in range(600)))
    dm = TwoLayerDataModule(str(path), val_fraction=0.5)
    assert dm.n_outputs == 30
    sizes = [len(X) for X, _ in dm.val_dataloader()]
    assert sizes[:-1] == [3] * (len(sizes) - 1) and sum(sizes) == 300  # 100 // 30 rows a batch
