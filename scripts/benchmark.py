"""Benchmarks: the hand-written backward against what users would pick instead.

    python scripts/benchmark.py                      # everything, prints markdown tables
    python scripts/benchmark.py --sections function  # one section
    python scripts/benchmark.py --markdown bench.md --json bench.json
    python scripts/benchmark.py --quick              # tiny sizes: checks the script runs
    python scripts/benchmark.py --sections data scale  # data loading; the 10 M-row fit (files in --data-dir)

Sections (all float32 on the CPU unless said):
  function  one SGD step (cost, backward, torch.optim.SGD) through TwoLayerNet.cost vs the same
            math through autograd (nn.Linear, nn.Tanh, nn.Linear, BCEWithLogitsLoss); the fused
            step (GradientDescent); at the large size the floor: the step's two big matrix products
  memory    peak RSS of training steps at the large size (separate processes) and the bytes
            saved for backward (saved_tensors_hooks)
  course    the course workload: flower, 4 tanh units, lr 1.2, 10 000 full-batch steps, cost
            every 1 000 steps: numpy (float64, the note's equations) vs GradientDescent vs Lightning
  tabular   200 000 x 32 binary data, 64 tanh units, plain SGD (lr 0.1, momentum 0), 2 epochs, batch
            64, 256 and 1024, float32 and float64: samples/s of the second epoch and test accuracy of
            GradientDescent mini-batch, scikit-learn MLPClassifier (solver sgd), a bare PyTorch loop
            over the package's module, Lightning fit, and autograd + nn.Sequential
  startup   wall time of `torchtwolayer --help`, `check`, `fit --help` and `import torchtwolayer`,
            against `import lightning.pytorch` (median of 5)
  busy      the default fit, `check --m 32 --n0 5 --n1 16 --n2 3` and the README's plain-PyTorch loop,
            idle and beside one CPU-bound competing process: the slowdown
  sklearn   torchtwolayer.sklearn.TwoLayerClassifier vs MLPClassifier (hidden size 100) on scikit-learn's
            breast cancer, wine and digits: 5-fold accuracy after StandardScaler, fit time (needs scikit-learn)
  data      reading a 1 000 000 x 33 CSV and the same Parquet file (each reader in its own process):
            seconds and peak RSS of the package's data module vs numpy.loadtxt, pyarrow, pandas
  scale     (not in the default run) fit for one epoch, batch 1024, on a 10 000 000 x 33 Parquet
            file: load and epoch seconds, peak RSS against the float32 matrix

Variants run interleaved in one process, several repetitions, medians.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from torchtwolayer import GradientDescent, TwoLayerNet
from torchtwolayer.data.builtin import planar

SIZES = {"tiny": (400, 2, 4), "medium": (256, 784, 256), "large": (4096, 1024, 1024)}
QUICK_SIZES = {"tiny": (400, 2, 4), "medium": (64, 32, 16), "large": (256, 64, 64)}


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def median_times(fns: dict[str, Callable[[], object]], reps: int, inner: int) -> dict[str, float]:
    """Median seconds per call of each function, the functions interleaved in every repetition."""
    for f in fns.values():  # warm up
        f()
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            _sync()
            t = time.perf_counter()
            for _ in range(inner):
                f()
            _sync()
            times[k].append((time.perf_counter() - t) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def binary_problem(m: int, n0: int, seed: int = 0, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(m, n0, generator=g)
    return X.to(device), (X[:, 0] * X[:, -1] > 0).float().to(device)


def autograd_model(n0: int, n1: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n0, n1), nn.Tanh(), nn.Linear(n1, 1))


# ---------------------------------------------------------------- function level
def bench_function(
    sizes: dict[str, tuple[int, int, int]], reps: int, device: str = "cpu", max_inner: int = 2000
) -> list[dict]:
    return [bench_function_size(name, *size, reps, device, max_inner) for name, size in sizes.items()]


def bench_function_size(
    name: str, m: int, n0: int, n1: int, reps: int, device: str = "cpu", max_inner: int = 2000
) -> dict:
    X, Y = binary_problem(m, n0, device=device)
    ours = TwoLayerNet(n0, n1, init="pytorch", seed=0, device=device)
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.01)
    ref = autograd_model(n0, n1).to(device)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.01)
    bce, Y2 = nn.BCEWithLogitsLoss(), Y[:, None]
    fused = GradientDescent(TwoLayerNet(n0, n1, init="pytorch", seed=0, device=device), X, Y, lr=0.01)

    def step_ours() -> None:
        opt_ours.zero_grad()
        ours.cost(X, Y).backward()
        opt_ours.step()

    def step_autograd() -> None:
        opt_ref.zero_grad()
        bce(ref(X), Y2).backward()
        opt_ref.step()

    fns = {"ours": step_ours, "autograd": step_autograd, "fused": lambda: fused.step()}
    dZ1, W1 = torch.randn(m, n1, device=device), ours.W1.detach()
    if name == "large":  # the floor: Z1 = X W1ᵀ and dW1 = dZ1ᵀ X, the step's two big products
        fns["floor"] = lambda: (torch.mm(X, W1.t()), torch.mm(dZ1.t(), X))
    inner = max(3, min(max_inner, int(3e8 / (m * n0 * n1 * 6 + 2e6))))
    t = median_times(fns, reps, inner)
    row = {
        "size": f"{name} (m={m}, {n0}→{n1}→1)",
        "ours_us": t["ours"] * 1e6,
        "autograd_us": t["autograd"] * 1e6,
        "ratio": t["ours"] / t["autograd"],
        "fused_us": t["fused"] * 1e6,
        "fused_speedup": t["autograd"] / t["fused"],
    }
    if "floor" in t:
        row["floor_us"] = t["floor"] * 1e6
        row["ours_over_floor"] = t["ours"] / t["floor"]
    return row


# ---------------------------------------------------------------------- memory
MEMORY_CHILD = """
import torch, torch.nn as nn
from torchtwolayer import TwoLayerNet

def rss(field):  # kB, from /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

m, n0, n1 = {size}
g = torch.Generator().manual_seed(0)
X = torch.randn(m, n0, generator=g); Y = (X[:, 0] > 0).float()
if {variant!r} == "ours":
    net = TwoLayerNet(n0, n1, init="pytorch", seed=0); loss = lambda: net.cost(X, Y)
else:
    net = nn.Sequential(nn.Linear(n0, n1), nn.Tanh(), nn.Linear(n1, 1)); bce = nn.BCEWithLogitsLoss()
    loss = lambda: bce(net(X), Y[:, None])
opt = torch.optim.SGD(net.parameters(), lr=0.01)
opt.zero_grad(); loss().backward(); opt.step()  # warm up: allocator, kernels
opt.zero_grad(set_to_none=True)
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = rss("VmRSS:")
for _ in range(3):
    opt.zero_grad(); loss().backward(); opt.step()
print(rss("VmHWM:"), before)
"""


def saved_storages(loss_fn: Callable[[], torch.Tensor]) -> dict[int, int]:
    """``{storage address: bytes}`` of the distinct storages saved for backward by one forward pass."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_fn()
    return seen


def bench_memory(size: tuple[int, int, int], fresh_process: bool = True) -> list[dict]:
    """Each variant's peak in its own process (``fresh_process=False``, for --quick: in this one,
    where the peak also holds what ran before: it checks the script runs, not the figure)."""
    rows = []
    m, n0, n1 = size
    X, Y = binary_problem(m, n0)
    for variant in ("ours", "autograd"):
        code = MEMORY_CHILD.format(size=size, variant=variant)
        if fresh_process:
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        else:
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                exec(code, {})
            out = printed.getvalue()
        peak_kib, base_kib = (int(v) for v in out.split())  # the step's peak, and RSS before it
        if variant == "ours":
            net = TwoLayerNet(n0, n1, init="pytorch", seed=0)
            params = list(net.parameters())
            saved = saved_storages(lambda net=net: net.cost(X, Y))
        else:
            ref, bce = autograd_model(n0, n1), nn.BCEWithLogitsLoss()
            params = list(ref.parameters())
            saved = saved_storages(lambda ref=ref, bce=bce: bce(ref(X), Y[:, None]))
        inputs = {t.untyped_storage().data_ptr() for t in [X, Y, *params]}
        activations = sum(b for ptr, b in saved.items() if ptr not in inputs)
        rows.append(
            {
                "variant": variant,
                "step_peak_rss_mib": peak_kib / 1024,
                "step_peak_above_start_mib": (peak_kib - base_kib) / 1024,
                "saved_for_backward_mib": sum(saved.values()) / 2**20,
                "saved_beyond_inputs_mib": activations / 2**20,
            }
        )
    return rows


# ---------------------------------------------------------------------- course
def course_init(n0: int = 2, n1: int = 4, seed: int = 2) -> list[np.ndarray]:
    """The course's initialisation: N(0, 0.01²) weights, zero biases (columns, as in the note)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n1, n0)) * 0.01, np.zeros((n1, 1)), rng.normal(size=(1, n1)) * 0.01, np.zeros((1, 1))]


def numpy_course(
    X: np.ndarray, Y: np.ndarray, params: list[np.ndarray], steps: int, lr: float = 1.2, cost_every: int = 1000
) -> list[float]:
    """The note's equations, straight numpy, examples as columns, float64."""
    W1, b1, W2, b2 = (p.copy() for p in params)
    m = X.shape[1]
    costs = []
    for i in range(steps):
        Z1 = W1 @ X + b1
        A1 = np.tanh(Z1)
        Z2 = W2 @ A1 + b2
        A2 = 1 / (1 + np.exp(-Z2))
        if i % cost_every == 0:
            costs.append(float(-np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m))
        dZ2 = A2 - Y
        dW2 = dZ2 @ A1.T / m
        db2 = np.sum(dZ2, axis=1, keepdims=True) / m
        dZ1 = (W2.T @ dZ2) * (1 - A1**2)
        dW1 = dZ1 @ X.T / m
        db1 = np.sum(dZ1, axis=1, keepdims=True) / m
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
    return costs


def lightning_course(steps: int) -> float:
    """Seconds of ``trainer.fit`` on the flower, full batch, no validation, logger or checkpoints."""
    import lightning.pytorch as pl

    from torchtwolayer.data.module import TwoLayerDataModule
    from torchtwolayer.lightning.module import TwoLayerModule

    pl.seed_everything(0, verbose=False)
    dm = TwoLayerDataModule("planar", val_fraction=0.0, full_batch_steps=1000)
    model = TwoLayerModule(n_features=2, hidden_size=4, lr=1.2)
    trainer = pl.Trainer(
        max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    t = time.perf_counter()
    trainer.fit(model, dm)
    return time.perf_counter() - t


def bench_course(steps: int, reps: int) -> list[dict]:
    X, y = planar(generator=torch.Generator().manual_seed(1))
    Xn, Yn = X.numpy().T.astype(np.float64).copy(), y.numpy()[None].astype(np.float64)
    times: dict[str, list[float]] = {"numpy float64": [], "GradientDescent float64": [], "GradientDescent float32": []}
    finals: dict[str, float] = {}
    init = course_init()
    for _ in range(reps):
        t = time.perf_counter()
        finals["numpy float64"] = numpy_course(Xn, Yn, init, steps)[-1]
        times["numpy float64"].append(time.perf_counter() - t)
        for dtype, key in ((torch.float64, "GradientDescent float64"), (torch.float32, "GradientDescent float32")):
            net = TwoLayerNet(2, 4, dtype=dtype)
            with torch.no_grad():  # the same start as numpy
                for p, value in zip(net.parameters(), init, strict=True):
                    p.copy_(torch.from_numpy(value).reshape(p.shape))
            gd = GradientDescent(net, X.to(dtype), y, lr=1.2)
            t = time.perf_counter()
            finals[key] = gd.run(steps, cost_every=1000)[-1]
            times[key].append(time.perf_counter() - t)
    base = statistics.median(times["numpy float64"])
    rows = [
        {"variant": k, "seconds": statistics.median(v), "ratio_to_numpy": statistics.median(v) / base,
         "last_cost": finals[k]}
        for k, v in times.items()
    ]  # fmt: skip
    t = lightning_course(steps)
    rows.append({"variant": "Lightning fit (float32)", "seconds": t, "ratio_to_numpy": t / base, "last_cost": None})
    return rows


# --------------------------------------------------------------------- tabular
def tabular_data(n: int, d: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary labels from a random one-hidden-layer teacher, about balanced."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    W = torch.randn(d, 16, generator=g) / d**0.5
    v = torch.randn(16, generator=g)
    score = torch.tanh(X @ W) @ v
    return X, (score > score.median()).float()


def _epoch_orders(n: int, epochs: int) -> list[torch.Tensor]:
    """The batch order of each epoch, the same for every variant written in PyTorch."""
    from torchtwolayer.core.batches import epoch_order

    return [epoch_order(n, epoch) for epoch in range(epochs)]


def gradient_descent_epoch_times(X: torch.Tensor, Y: torch.Tensor, batch: int, epochs: int, lr: float) -> tuple:
    """The package's graph-free mini-batch SGD (``GradientDescent(batch_size=...)``)."""
    net = TwoLayerNet(X.shape[1], 64, init="xavier", seed=0, dtype=X.dtype)
    gd = GradientDescent(net, X, Y, lr, batch_size=batch, seed=0)
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        gd.run(gd.steps_per_epoch)
        times.append(time.perf_counter() - t)
    return times, net


def _loop_epoch_times(
    step: Callable[[torch.Tensor, torch.Tensor], None], X: torch.Tensor, Y: torch.Tensor, batch: int, epochs: int
) -> list[float]:
    times = []
    for order in _epoch_orders(len(X), epochs):
        t = time.perf_counter()
        for i in range(0, len(X), batch):
            idx = order[i : i + batch]
            step(X[idx], Y[idx])
        times.append(time.perf_counter() - t)
    return times


def bare_loop_epoch_times(X: torch.Tensor, Y: torch.Tensor, batch: int, epochs: int, lr: float) -> tuple:
    """A plain PyTorch loop over the package's module: ``net.cost(X, Y).backward()``, SGD."""
    net = TwoLayerNet(X.shape[1], 64, init="xavier", seed=0, dtype=X.dtype)
    opt = torch.optim.SGD(net.parameters(), lr=lr)

    def step(Xb: torch.Tensor, Yb: torch.Tensor) -> None:
        opt.zero_grad()
        net.cost(Xb, Yb).backward()
        opt.step()

    return _loop_epoch_times(step, X, Y, batch, epochs), net


class _Sequential(nn.Module):
    """What users write without the package: nn.Linear, nn.Tanh, nn.Linear and BCEWithLogitsLoss."""

    def __init__(self, n0: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.layers = autograd_model(n0, 64).to(dtype)

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return (self.layers(X)[:, 0] > 0).long()


def autograd_epoch_times(X: torch.Tensor, Y: torch.Tensor, batch: int, epochs: int, lr: float) -> tuple:
    torch.manual_seed(0)
    model = _Sequential(X.shape[1], X.dtype)
    opt, bce = torch.optim.SGD(model.parameters(), lr=lr), nn.BCEWithLogitsLoss()

    def step(Xb: torch.Tensor, Yb: torch.Tensor) -> None:
        opt.zero_grad()
        bce(model.layers(Xb), Yb[:, None]).backward()
        opt.step()

    return _loop_epoch_times(step, X, Y, batch, epochs), model


def lightning_epoch_times(X: torch.Tensor, Y: torch.Tensor, batch: int, epochs: int, lr: float) -> tuple:
    import lightning.pytorch as pl

    from torchtwolayer.lightning.module import TwoLayerModule

    class EpochTimer(pl.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.t = time.perf_counter()

        def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.times.append(time.perf_counter() - self.t)

    dm = _TabularData(X, Y, batch)
    model = TwoLayerModule(n_features=X.shape[1], hidden_size=64, lr=lr, init="xavier")
    timer = EpochTimer()
    trainer = pl.Trainer(
        max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, callbacks=[timer],
        precision="64-true" if X.dtype == torch.float64 else "32-true",
    )  # fmt: skip
    trainer.fit(model, dm)
    return timer.times, model.net


def _TabularData(X: torch.Tensor, Y: torch.Tensor, batch: int):
    """The package's data module over in-memory arrays (the same batching as a CSV)."""
    from torchtwolayer.data.module import TwoLayerDataModule
    from torchtwolayer.data.tables import from_arrays

    class Data(TwoLayerDataModule):
        def read_table(self):
            return from_arrays({**{f"x{i}": X[:, i].numpy() for i in range(X.shape[1])}, "y": Y.numpy()})

    return Data(dataset="planar", val_fraction=0.0, batch_size=batch, standardize=False, seed=0)


def sklearn_epoch_times(X: torch.Tensor, Y: torch.Tensor, batch: int, epochs: int, lr: float) -> tuple:
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(64,), activation="tanh", solver="sgd", momentum=0.0, alpha=0.0,
        learning_rate="constant", learning_rate_init=lr, batch_size=batch, shuffle=True, random_state=0,
    )  # fmt: skip
    Xn, yn = X.numpy(), Y.numpy().astype(np.int64)
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        clf.partial_fit(Xn, yn, classes=np.array([0, 1]))
        times.append(time.perf_counter() - t)
    return times, clf


TABULAR_VARIANTS = {
    "GradientDescent mini-batch": gradient_descent_epoch_times,
    "scikit-learn MLPClassifier": sklearn_epoch_times,
    "bare PyTorch loop, same module": bare_loop_epoch_times,
    "Lightning fit": lightning_epoch_times,
    "autograd nn.Sequential": autograd_epoch_times,
}


def bench_tabular(
    n: int, batches: tuple[int, ...], dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.float64),
    epochs: int = 2, lr: float = 0.1, reps: int = 3,
) -> list[dict]:  # fmt: skip
    """Samples/s of the last epoch (the first warms up), median of ``reps`` interleaved runs of each
    variant, and test accuracy; ratios to scikit-learn (and to the bare loop) of the same run."""
    n_test = max(n // 10, 100)
    X_all, Y_all = tabular_data(n + n_test)  # one teacher for both splits
    variants = dict(TABULAR_VARIANTS)
    try:
        import sklearn  # noqa: F401  (scikit-learn is optional: the bench extra)
    except ImportError:
        del variants["scikit-learn MLPClassifier"]
    rows = []
    for dtype in dtypes:
        X_all_d = X_all.to(dtype)
        X, Y, Xt, Yt = X_all_d[:n], Y_all[:n].to(dtype), X_all_d[n:], Y_all[n:]
        for batch in batches:
            rates: dict[str, list[float]] = {k: [] for k in variants}
            models = {}
            for _ in range(reps):
                for name, run in variants.items():
                    times, models[name] = run(X, Y, batch, epochs, lr)
                    rates[name].append(n / times[-1])
            median = {k: statistics.median(v) for k, v in rates.items()}
            sklearn_rate = median.get("scikit-learn MLPClassifier")
            for name, model in models.items():
                predicted = model.predict(Xt.numpy() if name.startswith("scikit") else Xt)
                acc = float((np.asarray(predicted) == Yt.long().numpy()).mean())
                rows.append({
                    "dtype": str(dtype).removeprefix("torch."), "batch": batch, "variant": name,
                    "samples_per_s": median[name],
                    "vs_sklearn": median[name] / sklearn_rate if sklearn_rate else None,
                    "vs_bare": median[name] / median["bare PyTorch loop, same module"], "test_acc": acc,
                })  # fmt: skip
    return rows


# ---------------------------------------------------------------------- sklearn
SKLEARN_SETS = ("breast_cancer", "wine", "digits")


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


# --------------------------------------------------------------- start-up, busy
def _wall(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> float:
    """Seconds of wall time of one command, which must succeed."""
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "torchtwolayer", *args]


def bench_startup(reps: int) -> list[dict]:
    """Wall time of the commands that should start quickly, against importing lightning.pytorch."""
    commands = {
        "python -c 'import lightning.pytorch'": [sys.executable, "-c", "import lightning.pytorch"],
        "python -c 'import torchtwolayer'": [sys.executable, "-c", "import torchtwolayer"],
        "torchtwolayer --help": _command("--help"),
        "torchtwolayer check (defaults)": _command("check"),
        "torchtwolayer fit --help": _command("fit", "--help"),
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(reps):
        for name, cmd in commands.items():
            times[name].append(_wall(cmd))
    base = statistics.median(times["python -c 'import lightning.pytorch'"])
    return [
        {"command": name, "seconds": statistics.median(v), "vs_import_lightning": statistics.median(v) / base}
        for name, v in times.items()
    ]


README_STEP = """
import time, torch
from torchtwolayer import TwoLayerNet
X = torch.randn(400, 2); Y = (X[:, 0] * X[:, 1] > 0).float()
net = TwoLayerNet(n0=2, n1=8, seed=0); opt = torch.optim.SGD(net.parameters(), lr=1.0)
def step():
    opt.zero_grad(); net.cost(X, Y).backward(); opt.step()
for _ in range(50): step()
t = time.perf_counter()
for _ in range({steps}): step()
print((time.perf_counter() - t) / {steps})
"""


def bench_busy(quick: bool) -> list[dict]:
    """Small work beside one CPU-bound competing process, against the same work on an idle machine:
    the default fit, ``check`` at the README's larger size, and the README's plain-PyTorch loop."""
    import tempfile

    fit_args = ["fit", "--trainer.enable_progress_bar", "false"] + (["--trainer.max_steps", "300"] if quick else [])
    check_args = ["check", "--m", "32", "--n0", "5", "--n1", "16", "--n2", "3"] + (
        ["--activations", "tanh", "--outputs", "sigmoid"] if quick else []
    )
    steps = 200 if quick else 2000

    def readme_step() -> float:
        out = subprocess.run([sys.executable, "-c", README_STEP.format(steps=steps)], capture_output=True, text=True)
        return float(out.stdout)

    work = {
        "torchtwolayer fit (defaults), s": lambda cwd: _wall(_command(*fit_args), cwd=cwd),
        "torchtwolayer check --m 32 --n0 5 --n1 16 --n2 3, s": lambda cwd: _wall(_command(*check_args), cwd=cwd),
        "README's PyTorch loop, ms per step": lambda cwd: 1e3 * readme_step(),
    }
    rows = []
    for name, run in work.items():
        with tempfile.TemporaryDirectory() as cwd:
            idle = run(cwd)
        competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            with tempfile.TemporaryDirectory() as cwd:
                busy = run(cwd)
        finally:
            competitor.kill()
            competitor.wait()
        rows.append({"work": name, "idle": idle, "beside one busy process": busy, "slowdown": busy / idle})
    return rows


# ------------------------------------------------------------------ data loading
REPO = Path(__file__).resolve().parents[1]


def _rss_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in KiB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


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
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    start = _rss_kib("VmRSS:")
    t = time.perf_counter()
    data = read(path)
    seconds = time.perf_counter() - t
    peak = max(_rss_kib("VmHWM:"), _rss_kib("VmRSS:"))
    del data
    return {"seconds": seconds, "peak_above_start_kib": max(peak - start, 0), "peak_kib": peak}


DATA_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("benchmark", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
print(json.dumps(bench.measure_here(sys.argv[2], sys.argv[3])))
"""
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
    if not fresh_process:
        return measure_here(reader, str(path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", DATA_CHILD, __file__, reader, str(path)], capture_output=True,
                         text=True, env=env, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


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


SCALE_CHILD = """
import json, sys, tempfile, time
import lightning.pytorch as pl
from torchtwolayer.data.module import TwoLayerDataModule
from torchtwolayer.lightning.module import TwoLayerModule

def rss(field):  # kB, from /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

start = rss("VmRSS:")
t = time.perf_counter()
dm = TwoLayerDataModule(sys.argv[1], target="y", batch_size=1024)
load = time.perf_counter() - t
load_peak = rss("VmHWM:")
model = TwoLayerModule(n_features=dm.n_features, hidden_size=64, lr=0.1)

class StepTimer(pl.Callback):  # the training batches alone, without validation and epoch-end metrics
    def on_train_epoch_start(self, trainer, module):
        self.t = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.seconds = time.perf_counter() - self.t

timer = StepTimer()
with tempfile.TemporaryDirectory() as root:
    trainer = pl.Trainer(max_epochs=1, logger=False, default_root_dir=root, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[timer])
    t = time.perf_counter()
    trainer.fit(model, dm)
    fit = time.perf_counter() - t
print(json.dumps({
    "rows": len(dm.X), "load_s": load, "fit_s": fit, "steps_s": timer.seconds, "steps": trainer.global_step,
    "start_kib": start, "load_peak_kib": load_peak, "peak_kib": rss("VmHWM:"),
    "val_acc": float(trainer.callback_metrics.get("val/acc", float("nan"))),
}))
"""


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
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", SCALE_CHILD, str(path)], capture_output=True, text=True, env=env,
                         check=True)  # fmt: skip
    r = json.loads(out.stdout.strip().splitlines()[-1])
    matrix_mib = n * 32 * 4 / 2**20
    return [{
        "rows": r["rows"], "file_mib": path.stat().st_size / 2**20, "load_s": r["load_s"], "fit_epoch_s": r["fit_s"],
        "train_batches_s": r["steps_s"],
        "steps": r["steps"], "val_acc": r["val_acc"], "matrix_mib": matrix_mib,
        "rss_before_mib": r["start_kib"] / 1024, "peak_after_load_mib": r["load_peak_kib"] / 1024,
        "peak_rss_mib": r["peak_kib"] / 1024, "peak_over_matrix": r["peak_kib"] / 1024 / matrix_mib,
    }]  # fmt: skip


# ---------------------------------------------------------------------- output
def machine() -> dict:
    import lightning

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
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
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["function", "memory", "course", "tabular", "sklearn", "data", "startup", "busy"],
    )
    parser.add_argument("--data-dir", type=Path, default=Path("benchmark_data"), help="where data/scale write files")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (for tests)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--device", default="cpu", help="device of the function section, e.g. cuda")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    reps = 1 if args.quick else args.reps
    sizes = QUICK_SIZES if args.quick else SIZES
    results: dict = {"machine": machine()}
    if "function" in args.sections:
        results["function"] = bench_function(sizes, reps, args.device, max_inner=20 if args.quick else 2000)
    if "memory" in args.sections:
        results["memory"] = bench_memory(sizes["large"], fresh_process=not args.quick)
    if "course" in args.sections:
        results["course"] = bench_course(200 if args.quick else 10_000, reps=2 if args.quick else 5)
    if "tabular" in args.sections:
        results["tabular"] = bench_tabular(
            2_000 if args.quick else 200_000, (64, 256, 1024), reps=1 if args.quick else 3
        )
    if "sklearn" in args.sections:
        quick = {"sets": ("wine",), "folds": 3, "max_iter": 20, "reps": 1}
        full = {"sets": SKLEARN_SETS, "folds": 5, "max_iter": 200, "reps": 3}
        results["sklearn"] = bench_sklearn(**(quick if args.quick else full))
    if "startup" in args.sections:
        results["startup"] = bench_startup(reps=1 if args.quick else 5)
    if "busy" in args.sections:
        results["busy"] = bench_busy(args.quick)
    if "data" in args.sections:
        n, reps = (2_000, 1) if args.quick else (1_000_000, 3)
        results["data"] = bench_data(n, reps, args.data_dir, fresh_process=not args.quick)
    if "scale" in args.sections:
        results["scale"] = bench_scale(20_000 if args.quick else 10_000_000, folder=args.data_dir)
    text = "\n\n".join(
        [f"machine: {json.dumps(results['machine'])}"]
        + [f"### {name}\n\n{table(rows)}" for name, rows in results.items() if name != "machine"]
    )
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
