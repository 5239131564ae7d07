"""One ``torchtwolayer fit`` of a file, alone in a process and in a fresh folder: seconds and peak
RSS (``python -m scripts.benchmark.wide_child PATH STEPS``, one JSON line)."""

from __future__ import annotations

import os
import resource
import tempfile
import time

from .common import child_main


def measure(path: str, steps: str) -> dict:
    start = time.perf_counter()
    from torchtwolayer.commands import main

    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            status = main(["-q", "fit", "--data.dataset", path, "--trainer.max_steps", steps])
        finally:
            os.chdir(here)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"status": status, "seconds": time.perf_counter() - start, "peak_mib": peak_mib}


if __name__ == "__main__":
    child_main(measure)
