"""Scores of a trained model on one split of its data module, with its final weights."""

from __future__ import annotations

import torch

from ..data.module import TwoLayerDataModule
from .module import TwoLayerModule, make_metrics


@torch.no_grad()
def evaluate(model: TwoLayerModule, datamodule: TwoLayerDataModule, split: str) -> dict[str, float]:
    """Cost J and the task's metrics of ``model`` on ``split`` (``train``, ``val`` or ``test``)."""
    metrics = make_metrics(model.hparams.task, model.hparams.n_outputs, sync=False).to(model.device)
    J = model.score(*datamodule.tensors(split), metrics)
    return {"loss": J.item(), **{k: v.item() for k, v in metrics.compute().items()}}
