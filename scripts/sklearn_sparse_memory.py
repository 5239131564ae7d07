"""Peak memory of the scikit-learn estimators on a wide sparse X, against the size of X made dense.

    python scripts/sklearn_sparse_memory.py                  # 50 × 300 000, 150 non-zeros, hidden_size=4
    python scripts/sklearn_sparse_memory.py --columns 3000000

Each case runs in a child process (``python -c``), which reports its peak resident set
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) before and after one ``fit`` + ``predict``; the
difference is printed in MiB and in dense copies of X (rows × columns × 8 bytes), beside the
network's own weights (W1 is hidden_size × columns). Linux reports ru_maxrss in KiB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, warnings
import numpy as np, scipy.sparse as sp
from torchtwolayer.sklearn import TwoLayerClassifier, TwoLayerRegressor
rows, cols, nnz, hidden, kind, batch = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
X = sp.csr_matrix((rng.normal(size=nnz), (rng.integers(0, rows, nnz), rng.integers(0, cols, nnz))), shape=(rows, cols))
y = np.arange(rows) % 2
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
warnings.simplefilter("ignore")
est = (TwoLayerClassifier if kind == "classifier" else TwoLayerRegressor)(hidden, max_iter=3, batch_size=batch)
est.fit(X, y if kind == "classifier" else y * 1.0).predict(X)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "after_kib": after}))
"""


def measure(rows: int, cols: int, nnz: int, hidden: int, kind: str, batch: int | str) -> dict:
    args = json.dumps([rows, cols, nnz, hidden, kind, batch])
    out = subprocess.run([sys.executable, "-c", CHILD, args], capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    grown = (r["after_kib"] - r["before_kib"]) / 1024
    dense = rows * cols * 8 / 2**20
    return {"case": f"{kind}, batch {batch}", "peak_growth_mib": grown, "dense_x_mib": dense,
            "copies_of_x": grown / dense, "W1_mib": hidden * cols * 8 / 2**20}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--columns", type=int, default=300_000)
    parser.add_argument("--nonzeros", type=int, default=150)
    parser.add_argument("--hidden", type=int, default=4)
    args = parser.parse_args()
    print("| case | peak growth (MiB) | X dense (MiB) | in copies of X | W1 (MiB) |\n|---|---|---|---|---|")
    for kind, batch in [("classifier", "auto"), ("classifier", 16), ("regressor", "auto")]:
        r = measure(args.rows, args.columns, args.nonzeros, args.hidden, kind, batch)
        print(f"| {r['case']} | {r['peak_growth_mib']:.0f} | {r['dense_x_mib']:.0f} | {r['copies_of_x']:.1f} | "
              f"{r['W1_mib']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
