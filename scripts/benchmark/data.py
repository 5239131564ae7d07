"""Reading a 1 000 000 × 33 CSV and the same Parquet file, each reader in its own process
(:mod:`.data_child`): seconds and peak RSS of the package's data module against numpy.loadtxt, pyarrow
and pandas."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .common import reset_peak, rss_kib, run_child, tabular_data


def data_readers() -> dict[str, Callable[[str], object]]:
    """Each way to read the benchmark's file into memory (the libraries imported here, before timing)."""
    import pyarrow.compute  # what the package imports when it reads
    import pyarrow.csv
    import pyarrow.dataset
    import pyarrow.parquet

    from torchtwolayer.data.module import TwoLayerDataModule
    from torchtwolayer.data.schema import Schema
    from torchtwolayer.data.tables import open_table

    def ours(path: str) -> object:  # what fit does: read, stratified split, fit the schema, X in split order
        return TwoLayerDataModule(path, target="y").X

    def tables(path: str) -> object:  # the reader and the transform alone: all rows, no split
        table = open_table(path)
        features = table.names[:-1]
        return Schema(features, "y").fit_transform(table.load(table.names, numbers=features))

    readers = {
        "torchtwolayer data module": ours,
        "torchtwolayer tables + schema": tables,
        "numpy.loadtxt": lambda p: np.loadtxt(p, delimiter=",", skiprows=1, dtype=np.float32),
        "pyarrow.csv.read_csv": pyarrow.csv.read_csv,
        "pyarrow.parquet.read_table": pyarrow.parquet.read_table,
    }
    with contextlib.suppress(ImportError):  # pandas is optional
        import pandas

        readers["pandas.read_csv (pyarrow engine)"] = lambda p: pandas.read_csv(p, engine="pyarrow")
        readers["pandas.read_csv (C engine)"] = pandas.read_csv
        readers["pandas.read_parquet"] = pandas.read_parquet
    return readers


def measure_here(reader: str, path: str) -> dict:
    """Seconds and peak RSS of one read in this process (the peak reset just before it)."""
    read = data_readers()[reader]
    reset_peak()
    start = rss_kib("VmRSS:")
    t = time.perf_counter()
    data = read(path)
    seconds = time.perf_counter() - t
    peak = max(rss_kib("VmHWM:"), rss_kib("VmRSS:"))
    del data
    return {"seconds": seconds, "peak_above_start_kib": max(peak - start, 0), "peak_kib": peak}


CSV_READERS = ["torchtwolayer data module", "torchtwolayer tables + schema", "pyarrow.csv.read_csv",
               "pandas.read_csv (pyarrow engine)", "pandas.read_csv (C engine)", "numpy.loadtxt"]  # fmt: skip
PARQUET_READERS = ["torchtwolayer data module", "pyarrow.parquet.read_table", "pandas.read_parquet"]


def write_data_files(folder: Path, n: int, d: int = 32, seed: int = 0) -> dict[str, Path]:
    """The same n × (d + 1) table as CSV and as Parquet: d float32 features, an integer target."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    X, Y = tabular_data(n, d, seed)
    data = pa.table({**{f"x{i}": X[:, i].numpy() for i in range(d)}, "y": Y.numpy().astype(np.int64)})
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"csv": folder / f"data_{n}.csv", "parquet": folder / f"data_{n}.parquet"}
    pacsv.write_csv(data, paths["csv"], pacsv.WriteOptions(quoting_style="none"))
    pq.write_table(data, paths["parquet"])
    return paths


def measure_reader(reader: str, path: Path, fresh_process: bool = True) -> dict:
    """Seconds and peak RSS of one reader on ``path``, in a fresh process (or, to check the
    script quickly, in this one: its peaks then depend on what ran before)."""
    return run_child("data_child", reader, str(path), fresh_process=fresh_process)


def bench_data(n: int, reps: int, folder: Path, fresh_process: bool = True) -> list[dict]:
    """Each reader on an n × 33 CSV and the same Parquet file: median seconds and peak RSS of
    ``reps`` interleaved runs, each in its own process; the peak above the process's RSS before
    reading, against the float32 feature matrix (n × 32 × 4 bytes)."""
    has_pandas = "pandas.read_parquet" in data_readers()
    paths = write_data_files(folder, n)
    runs = [(fmt, r) for fmt, readers in (("csv", CSV_READERS), ("parquet", PARQUET_READERS)) for r in readers]
    runs = [(fmt, r) for fmt, r in runs if has_pandas or not r.startswith("pandas")]
    results: dict[tuple[str, str], list[dict]] = {run: [] for run in runs}
    for _ in range(reps):
        for fmt, reader in runs:
            results[fmt, reader].append(measure_reader(reader, paths[fmt], fresh_process))
    matrix_mib = n * 32 * 4 / 2**20
    rows = []
    for (fmt, reader), measured in results.items():
        peak = statistics.median(m["peak_above_start_kib"] for m in measured) / 1024
        rows.append({
            "file": f"{fmt} ({paths[fmt].stat().st_size / 2**20:.0f} MiB)", "reader": reader,
            "seconds": statistics.median(m["seconds"] for m in measured),
            "peak_above_start_mib": peak, "peak_over_matrix": peak / matrix_mib,
            "peak_rss_mib": statistics.median(m["peak_kib"] for m in measured) / 1024,
        })  # fmt: skip
    seconds = {(r["file"].split()[0], r["reader"]): r["seconds"] for r in rows}
    ours = seconds["csv", "torchtwolayer data module"]
    for row in rows:
        row["vs_ours"] = row["seconds"] / seconds[row["file"].split()[0], "torchtwolayer data module"]
    if has_pandas:
        rows.append({"file": "goal", "reader": "ours / pandas.read_csv (pyarrow engine) ≤ 1.2",
                     "seconds": ours / seconds["csv", "pandas.read_csv (pyarrow engine)"]})  # fmt: skip
    rows.append(
        {"file": "goal", "reader": "numpy.loadtxt / ours ≥ 10", "seconds": seconds["csv", "numpy.loadtxt"] / ours}
    )
    return rows
