"""200 000 × 32 binary data, 64 tanh units, plain SGD (lr 0.1), 2 epochs, batch 64, 256 and 1024, float32
and float64: samples/s of the second epoch and test accuracy of GradientDescent mini-batch,
scikit-learn's MLPClassifier (solver sgd), a bare PyTorch loop over the package's module, Lightning
fit (everything off but the command's profiler, ``NoProfiler``), and autograd + nn.Sequential.
The ``lightning`` section breaks Lightning's share down and prints the goal fit / bare loop."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn

from torchtwolayer import GradientDescent, TwoLayerNet

from .common import autograd_model, tabular_data


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
    from torchtwolayer.lightning.profiler import NoProfiler

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
        enable_model_summary=False, num_sanity_val_steps=0, callbacks=[timer], profiler=NoProfiler(),
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
