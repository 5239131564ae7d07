"""The command's defaults: the course's flower for the built-in sets, and settings chosen and
measured for tables, per task (``scripts/tabular_defaults.py`` measures them and writes the docs' table)."""

from __future__ import annotations

from typing import Any

from ..data.builtin import BUILTIN

RUNS, RUN_NAME = "runs", "torchtwolayer"  # runs/torchtwolayer/version_N: where `last` and `best` are found

TRAINER_DEFAULTS: dict[str, Any] = {
    "max_steps": 10_000,
    "max_epochs": -1,
    "default_root_dir": RUNS,
    "logger": {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": RUNS, "name": RUN_NAME},
    },
    "accelerator": "auto",
    "devices": 1,
    "enable_model_summary": False,
}

# A CSV or Parquet file gets these values for the flags not given (the flower's overfit tables);
# its mini-batch is the data module's TABLE_BATCH_SIZE. Chosen from about 50 settings tried on
# scikit-learn's breast-cancer, wine and digits; scripts/tabular_defaults.py measures them.
TABULAR: dict[str, Any] = {
    "model.hidden_size": 64,
    "model.lr": 0.3,
    "model.weight_decay": 1e-3,
    "trainer.max_epochs": 100,
}
TABULAR_PATIENCE = 10  # epochs without a lower val/loss before early stopping (tables only)

# A regression table's changes to TABULAR. The identity head's step is stable while lr stays below
# about 2 / (n1 · mean a²) (the curvature of the cost in W2 grows with the hidden units): 64 units at
# lr 0.3 diverge within a few steps on an ordinary table. Chosen on scikit-learn's diabetes,
# make_friedman1 and a table with a year and a categorical column, target in its own units.
TABULAR_REGRESSION: dict[str, Any] = {"model.hidden_size": 32, "model.lr": 0.05}


def table_defaults(task: str | None) -> dict[str, Any]:
    """The flags a table gets when not given, for its task (``binary``, ``multiclass`` or ``regression``)."""
    return {**TABULAR, **(TABULAR_REGRESSION if task == "regression" else {})}


def is_table(dataset: str) -> bool:
    """Whether ``dataset`` names a file (or folder) rather than a built-in set."""
    return dataset not in BUILTIN
