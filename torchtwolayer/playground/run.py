"""One run of the playground: the data, the network, the note's gradient descent, and its history.

A run is plain, single-threaded Python over the package's own parts: the data come from
:class:`~torchtwolayer.data.module.TwoLayerDataModule` (the split and the standardisation of
``torchtwolayer fit``), the network is :class:`~torchtwolayer.TwoLayerNet` and every step is one
:meth:`GradientDescent.step`, so the same settings give the same weights as this code in Python::

    dm = TwoLayerDataModule("planar", val_fraction=0, test_fraction=0.2, batch_size=0, seed=1)
    X, Y = dm.tensors("train")
    net = TwoLayerNet(2, 4, dm.n_outputs, "tanh", "sigmoid", "xavier", seed=1)
    GradientDescent(net, X, Y, lr=1.2, batch_size=None, seed=1).run(steps)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..core.divergence import divergence_bound, divergence_message, has_diverged
from ..core.gradient_descent import GradientDescent
from ..core.module import TwoLayerNet
from ..core.tasks import get_task
from .settings import Settings

if TYPE_CHECKING:
    from ..data.module import TwoLayerDataModule

TEST_FRACTION = 0.2  # the points held out, drawn as test points


def make_data(settings: Settings, files: dict[str, Path]) -> TwoLayerDataModule:
    """The run's data module: a built-in set, or one of the server's CSV ``files``, split into
    training and test rows (no validation split) and standardised as ``fit`` does."""
    from ..data.module import TwoLayerDataModule

    path = files.get(settings.dataset)
    dm = TwoLayerDataModule(
        dataset=str(path) if path is not None else settings.dataset,
        n_samples=settings.n_samples,
        noise=settings.noise if path is None else None,
        val_fraction=0.0,
        test_fraction=TEST_FRACTION,
        batch_size=settings.batch,
        seed=settings.seed,
    )
    if dm.n_features != 2:
        raise ValueError(
            f"{settings.dataset}: the playground draws the plane of 2 features, but the data have "
            f"{dm.n_features} inputs ({dm.feature_names}); give a CSV with two numeric feature columns and a label"
        )
    if dm.task == "regression":
        raise ValueError(
            f"{settings.dataset}: the target {dm.target_name!r} looks continuous; the playground draws "
            "classes: give a label column with a few distinct values"
        )
    return dm


class Run:
    """The network of ``settings`` trained step by step on its data.

    Attributes:
        dm: the data module (its schema turns the plane's raw points into the network's inputs).
        X, Y: the training rows (model inputs); ``X_test``, ``Y_test`` the held-out rows.
        net: the :class:`TwoLayerNet`; ``gd`` its :class:`GradientDescent`.
        steps: gradient steps done.
        history: one row (step, J train, J test, accuracy train, accuracy test) per frame.
        error: the divergence message once the cost has diverged (training stops), else ``None``.
    """

    def __init__(self, settings: Settings, files: dict[str, Path]) -> None:
        self.settings = settings
        self.dm = make_data(settings, files)
        self.X, self.Y = self.dm.tensors("train")
        self.X_test, self.Y_test = self.dm.tensors("test")
        self.task = get_task(self.dm.task)
        s = settings
        self.net = TwoLayerNet(2, s.hidden, self.dm.n_outputs, s.activation, self.task.head, s.init, seed=s.seed)
        self.gd = GradientDescent(self.net, self.X, self.Y, s.lr, batch_size=s.batch or None, seed=s.seed)
        self.steps = 0
        self.history: list[tuple[int, float, float, float, float]] = []
        self.error: str | None = None
        self._record()
        self._bound = divergence_bound(self.history[0][1], self.task.chance_cost(self.net.n2))

    @property
    def cost(self) -> float:
        """J on the training rows at the current weights."""
        return self.history[-1][1]

    def advance(self, steps: int) -> None:
        """``steps`` gradient steps (none once diverged), then one history row."""
        if self.error is not None:
            return
        self.gd.run(steps)
        self.steps += steps
        self._record()
        if has_diverged(self.cost, self._bound):
            self.error = divergence_message(f"by step {self.steps}", self.cost, self._bound, self.settings.lr, "α")

    @torch.no_grad()
    def _record(self) -> None:
        J, acc = self._score(self.X, self.Y)
        J_test, acc_test = self._score(self.X_test, self.Y_test) if len(self.Y_test) else (J, acc)
        self.history.append((self.steps, J, J_test, acc, acc_test))

    def _score(self, X: Tensor, Y: Tensor) -> tuple[float, float]:
        J, Z2 = self.net.cost_and_logits(X, Y)
        labels = Z2.argmax(1) if self.net.n2 > 1 else (Z2[:, 0] > 0).long()
        return float(J), float((labels == Y.long()).double().mean())

    def probabilities(self, X: Tensor) -> Tensor:
        """A2 for model inputs X: P(class 1), (m, 1), or each class's probability, (m, n2)."""
        return self.net.predict_proba(X)
