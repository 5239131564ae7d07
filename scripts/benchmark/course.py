"""The course workload: the flower, 4 tanh units, lr 1.2, 10 000 full-batch steps, the cost every
1 000 steps: numpy (float64, the note's equations) against GradientDescent and Lightning."""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from torchtwolayer import GradientDescent, TwoLayerNet
from torchtwolayer.data.builtin import planar


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
