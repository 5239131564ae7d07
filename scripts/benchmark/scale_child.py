"""One epoch of ``fit`` on a Parquet file, alone in a process: load and epoch seconds, peak RSS
(``python -m scripts.benchmark.scale_child PATH``, one JSON line)."""

from __future__ import annotations

import tempfile
import time

import lightning.pytorch as pl

from torchtwolayer.data.module import TwoLayerDataModule
from torchtwolayer.lightning.module import TwoLayerModule

from .common import child_main, rss_kib


class StepTimer(pl.Callback):
    """The training batches alone, without validation and epoch-end metrics."""

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.t = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.seconds = time.perf_counter() - self.t


def measure(path: str) -> dict:
    start = rss_kib("VmRSS:")
    t = time.perf_counter()
    dm = TwoLayerDataModule(path, target="y", batch_size=1024)
    load = time.perf_counter() - t
    load_peak = rss_kib("VmHWM:")
    model = TwoLayerModule(n_features=dm.n_features, hidden_size=64, lr=0.1)
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(max_epochs=1, logger=False, default_root_dir=root, enable_progress_bar=False,
                             enable_model_summary=False, callbacks=[timer])  # fmt: skip
        t = time.perf_counter()
        trainer.fit(model, dm)
        fit = time.perf_counter() - t
    return {
        "rows": len(dm.X), "load_s": load, "fit_s": fit, "steps_s": timer.seconds, "steps": trainer.global_step,
        "start_kib": start, "load_peak_kib": load_peak, "peak_kib": rss_kib("VmHWM:"),
        "val_acc": float(trainer.callback_metrics.get("val/acc", float("nan"))),
    }  # fmt: skip


if __name__ == "__main__":
    child_main(measure)
