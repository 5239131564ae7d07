"""The command's defaults: the course's flower for the built-in sets, and settings chosen and
measured for tables (``scripts/tabular_defaults.py`` measures them; the README has the table)."""

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


def is_table(dataset: str) -> bool:
    """Whether ``dataset`` names a file (or folder) rather than a built-in set."""
    return dataset not in BUILTIN
