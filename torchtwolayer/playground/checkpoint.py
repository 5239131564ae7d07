"""The playground's network as the files ``torchtwolayer fit`` writes: a checkpoint, and ONNX.

The checkpoint holds what Lightning's ``Trainer.save_checkpoint`` writes for ``fit``'s model and
data module, built from the same classes: :class:`~torchtwolayer.lightning.module.TwoLayerModule`
(its hyperparameters and ``state_dict``) and
:class:`~torchtwolayer.data.module.TwoLayerDataModule` (its hyperparameters and its schema, the
learned standardisation). So ``torchtwolayer predict/plot/export --ckpt_path FILE`` read it.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import torch

from .run import Run


def checkpoint(run: Run) -> dict[str, Any]:
    """The checkpoint of ``run``'s current weights."""
    import lightning

    from ..data.module import TwoLayerDataModule
    from ..lightning.module import TwoLayerModule

    s, dm = run.settings, run.dm
    module = TwoLayerModule(
        hidden_size=s.hidden, activation=s.activation, init=s.init, lr=s.lr, seed=s.seed,
        n_features=dm.n_features, n_outputs=dm.n_outputs, task=dm.task,
        target_mean=dm.target_mean, target_std=dm.target_std,
    )  # fmt: skip
    module.net.load_state_dict(run.net.state_dict())
    return {
        "epoch": 0,
        "global_step": run.steps,
        "pytorch-lightning_version": lightning.__version__,
        "state_dict": module.state_dict(),
        "loops": _loops(),
        "callbacks": {},
        "optimizer_states": [],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": dict(module.hparams),
        "datamodule_hparams_name": "kwargs",
        "datamodule_hyper_parameters": dict(dm.hparams),
        TwoLayerDataModule.__qualname__: dm.state_dict(),
    }


def checkpoint_bytes(run: Run) -> bytes:
    """The checkpoint, as ``torch.save`` writes it."""
    buffer = io.BytesIO()
    torch.save(checkpoint(run), buffer)
    return buffer.getvalue()


def onnx_bytes(run: Run) -> bytes:
    """The ONNX graph that :func:`torchtwolayer.export.export_onnx` writes for the checkpoint."""
    from ..export import export_onnx

    with tempfile.TemporaryDirectory(prefix="torchtwolayer-playground-") as folder:
        ckpt = Path(folder, "playground.ckpt")
        ckpt.write_bytes(checkpoint_bytes(run))
        return export_onnx(ckpt, Path(folder, "playground.onnx")).read_bytes()


def _loops() -> dict[str, Any]:
    """The state of a new Trainer's four loops: what a checkpoint of step 0 of ``fit`` holds."""
    from lightning.pytorch import Trainer

    from ..lightning.quiet import lightning_output  # (the command's quiet Lightning: no lines on accelerators)

    with lightning_output(verbosity=0):
        trainer = Trainer(
            accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False
        )
    loops = ("fit_loop", "validate_loop", "test_loop", "predict_loop")
    return {name: getattr(trainer, name).state_dict() for name in loops}
