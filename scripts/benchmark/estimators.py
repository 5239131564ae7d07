"""torchtwolayer.sklearn.TwoLayerClassifier against MLPClassifier (hidden size 100) on scikit-learn's
breast cancer, wine and digits: 5-fold accuracy after StandardScaler, and fit time (needs scikit-learn)."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np
import torch

SKLEARN_SETS = ("breast_cancer", "wine", "digits")
QUICK = {"sets": ("wine",), "folds": 3, "max_iter": 20, "reps": 1}
FULL = {"sets": SKLEARN_SETS, "folds": 5, "max_iter": 200, "reps": 3}


def sklearn_variants(max_iter: int) -> dict[str, Callable[[], object]]:
    """TwoLayerClassifier's defaults (float64, X's dtype; and float32) against MLPClassifier with the
    same hidden size: its defaults (adam, relu), and sgd with our defaults' settings."""
    from sklearn.neural_network import MLPClassifier

    from torchtwolayer.sklearn import TwoLayerClassifier

    sgd = dict(activation="tanh", solver="sgd", learning_rate_init=0.1, momentum=0.0, alpha=0.0)
    return {
        "TwoLayerClassifier (defaults, float64)": lambda: TwoLayerClassifier(max_iter=max_iter, random_state=0),
        "TwoLayerClassifier (float32)": lambda: TwoLayerClassifier(max_iter=max_iter, dtype="float32", random_state=0),
        "MLPClassifier (defaults: adam, relu)": lambda: MLPClassifier((100,), max_iter=max_iter, random_state=0),
        "MLPClassifier (sgd, our defaults)": lambda: MLPClassifier((100,), max_iter=max_iter, random_state=0, **sgd),
    }


def bench_sklearn(sets: tuple[str, ...], folds: int, max_iter: int, reps: int) -> list[dict]:
    """``folds``-fold cross-validated accuracy of StandardScaler + each variant (hidden size 100) on
    scikit-learn's bundled sets, and the median fit time of one fold over ``reps`` interleaved runs.
    One thread each (torch and numpy's BLAS): the data are small, and timings of several threads on a
    shared machine measure the machine's other work."""
    import warnings

    from sklearn import datasets
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    import torchtwolayer.sklearn  # noqa: F401  (without scikit-learn: an ImportError naming the extra)

    variants = sklearn_variants(max_iter)
    rows = []
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for name in sets:
                X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
                cv = StratifiedKFold(folds, shuffle=True, random_state=0)
                runs: dict[str, list[dict]] = {k: [] for k in variants}
                for _ in range(reps):
                    for variant, make in variants.items():
                        pipe = make_pipeline(StandardScaler(), make())
                        runs[variant].append(cross_validate(pipe, X, y, cv=cv, return_estimator=True))
                mlp = runs["MLPClassifier (defaults: adam, relu)"][0]["test_score"].mean()
                for variant, results in runs.items():
                    scores = results[0]["test_score"]
                    epochs = [pipe[-1].n_iter_ for pipe in results[0]["estimator"]]
                    rows.append({
                        "data": f"{name} ({X.shape[0]}×{X.shape[1]}, {len(np.unique(y))} classes)",
                        "variant": variant,
                        "accuracy": scores.mean(),
                        "accuracy_std": scores.std(),
                        "vs_mlp_defaults": scores.mean() - mlp,
                        "fit_s": statistics.median(t for r in results for t in r["fit_time"]),
                        "epochs": float(np.mean(epochs)),
                    })  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return rows
