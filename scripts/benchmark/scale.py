"""(Not in the default run.) ``fit`` for one epoch, batch 1024, on a 10 000 000 × 33 Parquet file, in a
fresh process (:mod:`.scale_child`): load and epoch seconds, peak RSS against the float32 matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .common import run_child


def write_scale_parquet(path: Path, n: int, d: int = 32, chunk: int = 1_000_000) -> Path:
    """n × (d + 1) as Parquet, float64 features (what pandas writes), written a million rows at a
    time; labels from one random one-hidden-layer teacher, as in :func:`tabular_data`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    W, v = torch.randn(d, 16, generator=g) / d**0.5, torch.randn(16, generator=g)
    schema = pa.schema([*(pa.field(f"x{i}", pa.float64()) for i in range(d)), ("y", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n, chunk):
            X = torch.randn(min(chunk, n - start), d, generator=g, dtype=torch.float64)
            y = (torch.tanh(X.float() @ W) @ v > 0).numpy().astype(np.int64)
            writer.write_table(pa.table({**{f"x{i}": X[:, i].numpy() for i in range(d)}, "y": y}))
    return path


def bench_scale(n: int, folder: Path) -> list[dict]:
    """``fit`` for one epoch at batch 1024 (64 tanh units, val 20 %) on an n × 33 Parquet file,
    in a fresh process: seconds and peak RSS (the whole process) against the float32 matrix."""
    path = write_scale_parquet(folder / f"scale_{n}.parquet", n)
    r = run_child("scale_child", str(path))
    matrix_mib = n * 32 * 4 / 2**20
    return [{
        "rows": r["rows"], "file_mib": path.stat().st_size / 2**20, "load_s": r["load_s"], "fit_epoch_s": r["fit_s"],
        "train_batches_s": r["steps_s"],
        "steps": r["steps"], "val_acc": r["val_acc"], "matrix_mib": matrix_mib,
        "rss_before_mib": r["start_kib"] / 1024, "peak_after_load_mib": r["load_peak_kib"] / 1024,
        "peak_rss_mib": r["peak_kib"] / 1024, "peak_over_matrix": r["peak_kib"] / 1024 / matrix_mib,
    }]  # fmt: skip
