"""Peak memory of the scikit-learn estimators on a wide sparse X, against the size of X made dense.

    python scripts/sklearn_sparse_memory.py                  # 50 × 300 000, 150 non-zeros, hidden_size 4 and 100
    python scripts/sklearn_sparse_memory.py --columns 3000000

Each case runs in a child process (``python -c``), which reports its peak resident set
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) before and after one ``fit`` + ``predict``; the
difference is printed in MiB and in dense copies of X (rows × columns × 8 bytes), beside the
network's own weights (W1 is hidden_size × columns; training holds W1 and its gradient dW1).
Cases: plain; early stopping with sample weights; the regressor with sample weights.
Linux reports ru_maxrss in KiB.
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
rows, cols, nnz, hidden, kind, early, weighted = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
X = sp.csr_matrix((rng.normal(size=nnz), (rng.integers(0, rows, nnz), rng.integers(0, cols, nnz))), shape=(rows, cols))
y = np.arange(rows) % 2
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
warnings.simplefilter("ignore")
est = (TwoLayerClassifier if kind == "classifier" else TwoLayerRegressor)(hidden, max_iter=3, early_stopping=early,
    validation_fraction=0.2)
w = rng.uniform(0.5, 1.0, rows) if weighted else None
est.fit(X, y if kind == "classifier" else y * 1.0, sample_weight=w).predict(X)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "after_kib": after}))
"""


def measure(rows: int, cols: int, nnz: int, hidden: int, kind: str, early: bool, weighted: bool) -> dict:
    args = json.dumps([rows, cols, nnz, hidden, kind, early, weighted])
    out = subprocess.run([sys.executable, "-c", CHILD, args], capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    grown = (r["after_kib"] - r["before_kib"]) / 1024
    dense = rows * cols * 8 / 2**20
    case = f"{kind}, hidden_size={hidden}" + (", early stopping" if early else "") + (", weights" if weighted else "")
    return {"case": case, "peak_growth_mib": grown, "dense_x_mib": dense,
            "copies_of_x": grown / dense, "W1_mib": hidden * cols * 8 / 2**20}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--columns", type=int, default=300_000)
    parser.add_argument("--nonzeros", type=int, default=150)
    parser.add_argument("--hidden", type=int, nargs="+", default=[4, 100])
    args = parser.parse_args()
    print("| case | peak growth (MiB) | X dense (MiB) | in copies of X | W1 (MiB) |\n|---|---|---|---|---|")
    cases = [("classifier", False, False), ("classifier", True, True), ("regressor", False, True)]
    for hidden, (kind, early, weighted) in ((h, c) for h in args.hidden for c in cases):
        r = measure(args.rows, args.columns, args.nonzeros, hidden, kind, early, weighted)
        print(f"| {r['case']} | {r['peak_growth_mib']:.0f} | {r['dense_x_mib']:.0f} | {r['copies_of_x']:.1f} | "
              f"{r['W1_mib']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
