"""``TwoLayerDataModule``: built-in 2-D data sets or a user's CSV, held in memory.

The data set is a typed argument: a built-in name (``planar``, ``moons``,
``circles``, ``blobs``, ``gaussian_quantiles``, ``xor``) or the path of a CSV
file. Features are standardised with statistics of the training split only;
those statistics, the feature and target names, the task and the class values
are the module's ``state_dict``, which Lightning stores in every checkpoint, so
``predict`` on a new file applies the same transform.

Under a data-parallel strategy each process trains on its own share of every
batch (see :class:`~torchtwolayer.loader.InMemoryBatches`); validation, test
and prediction rows are split across processes in contiguous blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor

from .csv_data import CSVFormatError, Table, read_table
from .datasets import BUILTIN, make_dataset
from .loader import InMemoryBatches

Task = Literal["auto", "binary", "multiclass", "regression"]
EVAL_BATCH = 65536


class TwoLayerDataModule(LightningDataModule):
    """In-memory data for :class:`~torchtwolayer.lightning_module.TwoLayerModule`.

    Args:
        dataset: a built-in data set name or the path of a CSV file of numeric columns.
        target: the CSV column to predict (default: the last column).
        features: the CSV feature columns (default: all the others).
        task: ``auto`` infers it from the target: two values → ``binary``, at most
            ``max_classes`` integer values → ``multiclass``, otherwise ``regression``.
        n_samples: points generated for a built-in data set.
        noise: noise of a built-in data set (``None``: its default).
        val_fraction: share of rows held out for validation.
        test_fraction: share of rows held out for testing.
        batch_size: rows per step; 0 means full batch, the note's gradient descent.
        full_batch_steps: steps per epoch in full-batch mode.
        shuffle: reshuffle the training rows every epoch.
        standardize: scale features to zero mean and unit variance (training statistics).
        seed: seed of the data set, the split and the batch order.
        max_classes: most distinct integer targets still inferred as classes.
    """

    def __init__(
        self,
        dataset: str = "planar",
        target: str | None = None,
        features: list[str] | None = None,
        task: Task = "auto",
        n_samples: int = 400,
        noise: float | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.0,
        batch_size: int = 0,
        full_batch_steps: int = 100,
        shuffle: bool = True,
        standardize: bool = True,
        seed: int = 1,
        max_classes: int = 20,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)  # the run's logged hparams are the model's
        _check_arguments(dataset, task, n_samples, val_fraction, test_fraction, batch_size, full_batch_steps)
        self.feature_names, self.target_name, self.task, self.classes = self._load()
        self.x_mean: Tensor | None = None
        self.x_std: Tensor | None = None
        self.y_mean, self.y_std = 0.0, 1.0
        self.splits = self._split(len(self.X))
        self._ready: dict[str, tuple[Tensor, Tensor]] = {}

    # ---------------------------------------------------------------- loading
    @property
    def is_csv(self) -> bool:
        return self.hparams.dataset not in BUILTIN

    def _load(self) -> tuple[list[str], str | None, str | None, list[float] | None]:
        """Read the data now, so the number of features, outputs and the task are known."""
        hp = self.hparams
        if not self.is_csv:
            X, y = make_dataset(hp.dataset, hp.n_samples, hp.noise, hp.seed)
            self.X, self.y_raw = X, y.double()
            return ["x1", "x2"], "label", *self._infer_task(self.y_raw.numpy())
        table = read_table(hp.dataset)
        target = hp.target if hp.target is not None else table.columns[-1]
        has_target = target in table.columns  # a new file for predict may lack it
        features = hp.features or [c for c in table.columns if c != target]
        _check_columns(table, features, target if has_target else None)
        self.X = torch.from_numpy(table.values[:, [table.columns.index(c) for c in features]]).float()
        self.y_raw = torch.from_numpy(table.column(target).copy()) if has_target else None
        if self.y_raw is None:
            return features, target, None, None
        return features, target, *self._infer_task(self.y_raw.numpy())

    def _infer_task(self, y: np.ndarray) -> tuple[str, list[float] | None]:
        values = np.unique(y)
        task = self.hparams.task
        if task == "auto":
            if len(values) == 2:
                task = "binary"
            elif len(values) <= self.hparams.max_classes and np.all(values == np.round(values)):
                task = "multiclass"
            else:
                task = "regression"
        if task in ("binary", "multiclass") and len(values) < 2:
            raise CSVFormatError(
                f"the target {self.target_name_hint!r} has a single value ({values[0]:g}); "
                "a classifier needs at least two classes"
            )
        if task == "binary" and len(values) != 2:
            raise CSVFormatError(
                f"task 'binary' needs a target with exactly two values, got {len(values)}; "
                "use --data.task multiclass or regression"
            )
        return task, (values.tolist() if task != "regression" else None)

    @property
    def target_name_hint(self) -> str:
        return self.hparams.target or "last column"

    # ---------------------------------------------------------- what the model needs
    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_outputs(self) -> int | None:
        """1 for binary and regression, the number of classes for multiclass, None if unknown."""
        if self.task is None:
            return None
        return len(self.classes) if self.task == "multiclass" else 1

    # ---------------------------------------------------------------- splits
    def setup(self, stage: str) -> None:
        if stage != "predict" and self.y_raw is None:
            raise CSVFormatError(
                f"{self.hparams.dataset}: target column {self.target_name!r} not found; the file has "
                f"columns {self.feature_names}. Name the target with --data.target"
            )

    def _split(self, m: int) -> dict[str, Tensor]:
        hp = self.hparams
        order = torch.randperm(m, generator=torch.Generator().manual_seed(hp.seed))
        n_val, n_test = round(hp.val_fraction * m), round(hp.test_fraction * m)
        n_train = m - n_val - n_test
        if n_train < 1:
            raise ValueError(
                f"val_fraction={hp.val_fraction} and test_fraction={hp.test_fraction} leave no training "
                f"rows out of {m}; lower them"
            )
        if hp.batch_size > n_train:
            raise ValueError(
                f"batch_size={hp.batch_size} is larger than the {n_train} training rows; "
                "use a smaller batch size, or 0 for full batch"
            )
        return {
            "train": order[:n_train].sort().values,
            "val": order[n_train : n_train + n_val].sort().values,
            "test": order[n_train + n_val :].sort().values,
            "predict": torch.arange(m),
        }

    # -------------------------------------------------------------- transform
    def _fit_transform(self) -> None:
        """Standardisation statistics from the training rows only."""
        X = self.X[self.splits["train"]]
        if self.hparams.standardize:
            self.x_mean, self.x_std = X.mean(0), X.std(0, unbiased=False).clamp_min(1e-12)
        else:
            self.x_mean, self.x_std = torch.zeros(X.shape[1]), torch.ones(X.shape[1])
        if self.task == "regression" and self.hparams.standardize:
            y = self.y_raw[self.splits["train"]]
            self.y_mean, self.y_std = y.mean().item(), max(y.std(unbiased=False).item(), 1e-12)

    def tensors(self, split: str) -> tuple[Tensor, Tensor]:
        """Standardised X and model-ready Y of ``split`` (Y is empty when the file has no target)."""
        if split not in self._ready:
            if self.x_mean is None:
                self._fit_transform()
            idx = self.splits[split]
            X = self.transform(self.X[idx]).contiguous()
            self._ready[split] = (
                X,
                self.encode_target(self.y_raw[idx]) if self.y_raw is not None else torch.empty(0),
            )
        return self._ready[split]

    def transform(self, X: Tensor) -> Tensor:
        """Raw features → model inputs, with the training split's statistics."""
        if self.x_mean is None:
            self._fit_transform()
        return (X - self.x_mean.to(X)) / self.x_std.to(X)

    def raw_split(self, split: str) -> tuple[Tensor, Tensor]:
        """Raw features and raw target values of ``split`` (for pictures)."""
        idx = self.splits[split]
        return self.X[idx], self.y_raw[idx] if self.y_raw is not None else torch.empty(0)

    def encode_target(self, y: Tensor) -> Tensor:
        """Raw target values → what the cost takes: 0/1 floats, class indices or standardised values."""
        if self.task == "regression":
            return ((y - self.y_mean) / self.y_std).float()
        classes = torch.tensor(self.classes, dtype=y.dtype)
        idx = torch.searchsorted(classes, y)
        unknown = (idx >= len(classes)) | (classes[idx.clamp_max(len(classes) - 1)] != y)
        if unknown.any():
            raise ValueError(
                f"target values {sorted(set(y[unknown].tolist()))[:5]} were not seen in training "
                f"(classes {self.classes}); the checkpoint cannot score them"
            )
        return idx.float() if self.task == "binary" else idx

    def decode(self, A2: Tensor) -> dict[str, np.ndarray]:
        """Model outputs A2 → prediction columns in the target's own values."""
        if self.task == "regression":
            return {"prediction": (A2[:, 0].double() * self.y_std + self.y_mean).numpy()}
        classes = np.asarray(self.classes)
        if self.task == "binary":
            p1 = A2[:, 0].double().numpy()
            return {
                "prediction": classes[(p1 > 0.5).astype(int)],
                f"p_{classes[0]:g}": 1 - p1,
                f"p_{classes[1]:g}": p1,
            }
        P = A2.double().numpy()
        columns = {"prediction": classes[P.argmax(1)]}
        columns.update({f"p_{c:g}": P[:, k] for k, c in enumerate(classes)})
        return columns

    # ------------------------------------------------------------ dataloaders
    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> InMemoryBatches:
        X, Y = self.tensors("train")
        rank, world = self._rank()
        hp = self.hparams
        return InMemoryBatches(
            X, Y, hp.batch_size, hp.shuffle, hp.seed,
            epoch=lambda: self.trainer.current_epoch if self.trainer is not None else 0,
            rank=rank, world_size=world, full_batch_steps=hp.full_batch_steps,
        )  # fmt: skip

    def _eval_batches(self, split: str) -> InMemoryBatches:
        """This process's contiguous block of ``split``, in order, in large batches."""
        X, Y = self.tensors(split)
        rank, world = self._rank()
        block = slice(rank * -(-len(X) // world), (rank + 1) * -(-len(X) // world))
        return InMemoryBatches(X[block], Y[block] if len(Y) else Y, EVAL_BATCH, shuffle=False)

    def val_dataloader(self) -> InMemoryBatches | list:
        return self._eval_batches("val") if len(self.splits["val"]) else []  # []: no validation

    def test_dataloader(self) -> InMemoryBatches:
        if not len(self.splits["test"]):
            raise ValueError("there is no test split: set --data.test_fraction above 0 (e.g. 0.2)")
        return self._eval_batches("test")

    def predict_dataloader(self) -> InMemoryBatches:
        return self._eval_batches("predict")

    # ------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Plain values only, so checkpoints load with ``torch.load(weights_only=True)``."""
        if self.x_mean is None:
            self._fit_transform()
        return {
            "feature_names": list(self.feature_names),
            "target_name": self.target_name,
            "task": self.task,
            "classes": self.classes,
            "x_mean": self.x_mean.tolist(),
            "x_std": self.x_std.tolist(),
            "y_mean": self.y_mean,
            "y_std": self.y_std,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["feature_names"] != self.feature_names:
            raise ValueError(
                f"the checkpoint was trained on features {state['feature_names']} but the data has "
                f"{self.feature_names}; give the same columns (--data.features)"
            )
        self.target_name, self.task, self.classes = state["target_name"], state["task"], state["classes"]
        self.x_mean, self.x_std = torch.tensor(state["x_mean"]), torch.tensor(state["x_std"])
        self.y_mean, self.y_std = state["y_mean"], state["y_std"]
        self._ready.clear()

    def write_predictions(self, A2: Tensor, path: str | Path) -> Path:
        """One CSV row per input row: the prediction, then class probabilities; written atomically."""
        from .io import write_csv_atomically

        columns = self.decode(A2)
        return write_csv_atomically(path, columns)


def _check_arguments(
    dataset: str, task: str, n_samples: int, val_fraction: float, test_fraction: float,
    batch_size: int, full_batch_steps: int,
) -> None:  # fmt: skip
    if not isinstance(dataset, str) or not dataset:
        raise ValueError("dataset must be a built-in name or the path of a .csv file")
    if dataset not in BUILTIN and not dataset.endswith(".csv") and not Path(dataset).is_file():
        raise ValueError(f"unknown data set {dataset!r}: expected one of {sorted(BUILTIN)} or a path to a .csv file")
    if task not in ("auto", "binary", "multiclass", "regression"):
        raise ValueError(f"unknown task {task!r}: expected auto, binary, multiclass or regression")
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2, got {n_samples}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1 to leave training rows, got {val_fraction} + {test_fraction}"
        )
    if batch_size < 0:
        raise ValueError(f"batch_size must be a positive number of rows, or 0 for full batch; got {batch_size}")
    if full_batch_steps < 1:
        raise ValueError(f"full_batch_steps must be at least 1, got {full_batch_steps}")


def _check_columns(table: Table, features: list[str], target: str | None) -> None:
    missing = [c for c in features if c not in table.columns]
    if missing:
        raise CSVFormatError(f"{table.path}: feature columns {missing} not found; the file has {table.columns}")
    if target is not None and target in features:
        raise CSVFormatError(f"{table.path}: the target {target!r} cannot also be a feature")
    if not features:
        raise CSVFormatError(f"{table.path}: no feature columns left besides the target {target!r}")
