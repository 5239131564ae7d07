"""The command line: which sections run, and where their tables go."""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from scripts import benchmark

from . import course, data, estimators, function, fused, lightning, loop, memory, scale, startup, tabular, wide

DEFAULT_SECTIONS = ["function", "fused", "loop", "memory", "course", "tabular", "sklearn", "data", "startup", "busy"]


def sections(args: argparse.Namespace) -> dict[str, Callable[[], list[dict]]]:
    """Each section's run, with this command line's sizes and repetitions."""
    quick, reps = args.quick, 1 if args.quick else args.reps
    return {
        "function": lambda: function.bench_function(quick, reps, args.device),
        "fused": lambda: fused.bench_fused(quick, reps),
        "loop": lambda: loop.bench_loop(quick, reps),
        "memory": lambda: memory.bench_memory((function.QUICK_SIZES if quick else function.SIZES)["large"], not quick),
        "course": lambda: course.bench_course(200 if quick else 10_000, reps=2 if quick else 5),
        "tabular": lambda: tabular.bench_tabular(2_000 if quick else 200_000, (64, 256, 1024), reps=1 if quick else 3),
        "sklearn": lambda: estimators.bench_sklearn(**(estimators.QUICK if quick else estimators.FULL)),
        "startup": lambda: startup.bench_startup(reps=1 if quick else 5),
        "busy": lambda: startup.bench_busy(quick),
        "data": lambda: data.bench_data(*((2_000, 1) if quick else (1_000_000, 3)), args.data_dir, not quick),
        "scale": lambda: scale.bench_scale(20_000 if quick else 10_000_000, folder=args.data_dir),
        "wide": lambda: wide.bench_wide(quick),
        "lightning": lambda: lightning.bench_lightning(quick, 1 if quick else 7),
    }


def machine() -> dict:
    import lightning

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],  # a shared machine's other work: the timings' noise
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "lightning": lightning.__version__,
    }
    try:
        import sklearn

        info["scikit-learn"] = sklearn.__version__
    except ImportError:
        pass
    return info


def table(rows: list[dict]) -> str:
    if not rows:
        return ""
    keys = list(dict.fromkeys(k for r in rows for k in r))

    def cell(v: object) -> str:
        if isinstance(v, bool):
            return "yes" if v else "**no**"
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def write_docs(path: Path, results: dict) -> None:
    """Each section's table into ``path`` between ``<!-- benchmark-SECTION:start -->`` and
    ``<!-- benchmark-SECTION:end -->``, with the machine it ran on."""
    from torchtwolayer.files import replace_marked_section

    m = results["machine"]
    where = f"_{m['processor']}, {m['cpus']} CPUs, torch {m['torch']}, load {m['load_average_1min']:.1f}_"
    for name, rows in results.items():
        if name != "machine":
            replace_marked_section(path, f"benchmark-{name}", f"{where}\n\n{table(rows)}")


def main(argv: list[str] | None = None) -> dict:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=benchmark.__doc__, formatter_class=formatter)
    parser.add_argument("--sections", nargs="+", default=DEFAULT_SECTIONS)
    parser.add_argument("--data-dir", type=Path, default=Path("benchmark_data"), help="where data/scale write files")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (for tests)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--device", default="cpu", help="device of the function section, e.g. cuda")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--docs", type=Path, help="also write each table into this file's marked section")
    args = parser.parse_args(argv)
    runs = sections(args)
    unknown = [s for s in args.sections if s not in runs]
    if unknown:
        parser.error(f"unknown sections {unknown}: choose from {list(runs)}")
    results: dict = {"machine": machine()}
    for name in args.sections:
        results[name] = runs[name]()
    text = "\n\n".join(
        [f"machine: {json.dumps(results['machine'])}"]
        + [f"### {name}\n\n{table(rows)}" for name, rows in results.items() if name != "machine"]
    )
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.docs:
        write_docs(args.docs, results)
    return results
