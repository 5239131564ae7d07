"""``predict``'s output: one CSV row per input row, in the file's order, through Lightning's
``BasePredictionWriter``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from ..data.module import TwoLayerDataModule
from ..files import output_path

DEFAULT_FOLDER = Path("predictions")


class PredictionWriter(BasePredictionWriter):
    """Writes the predictions of the data module's rows as a CSV file: the prediction in the
    target's own values, then one probability column per class; atomically.

    Args:
        output: the file to write (default: ``predictions/<data set>.csv``, numbered rather
            than overwrite an existing file).
        overwrite: replace ``output`` when it exists.
    """

    def __init__(self, output: str | None = None, overwrite: bool = False) -> None:
        super().__init__(write_interval="epoch")
        self.output, self.overwrite = output, overwrite
        self.path: Path | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Choose (and check) the file before anything is predicted."""
        if stage == "predict":
            self.path = self.resolve(trainer.datamodule)

    def resolve(self, datamodule: Any) -> Path:
        if self.output is not None:
            return output_path(self.output, self.overwrite, "predictions.csv")
        stem = Path(datamodule.hparams.dataset).stem if isinstance(datamodule, TwoLayerDataModule) else "predictions"
        path, n = DEFAULT_FOLDER / f"{stem}.csv", 1
        while path.exists():
            path, n = DEFAULT_FOLDER / f"{stem}-{n}.csv", n + 1
        return path

    def write_on_epoch_end(
        self, trainer: Trainer, pl_module: LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        local = torch.cat(predictions) if predictions else torch.empty(0)
        A2 = _gather_in_rank_order(local) if trainer.world_size > 1 else local
        dm = trainer.datamodule
        if trainer.is_global_zero and isinstance(dm, TwoLayerDataModule) and len(A2):
            written = dm.write_predictions(A2, self.path or self.resolve(dm))
            print(f"Wrote {len(A2)} predictions to {written}", flush=True)


def _gather_in_rank_order(local: torch.Tensor) -> torch.Tensor:
    """Every process predicted a contiguous block of the rows, in order: concatenating the
    blocks by rank gives the rows in their original order, as one file."""
    import torch.distributed as dist

    blocks: list[torch.Tensor | None] = [None] * dist.get_world_size()
    dist.all_gather_object(blocks, local.cpu())
    return torch.cat([b for b in blocks if b is not None and len(b)])
