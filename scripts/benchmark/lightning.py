"""Lightning's own work per batch (issue 23): a trivial step with everything off (Lightning's floor),
then each of the command's defaults switched on one at a time, the package's module, and the two
designs (automatic optimization, manual optimization) against a bare loop over the same module;
the ratio fit / bare loop beside its goal at batch 256 and 1024 (fit: the module under a Trainer
with everything off but the command's profiler, ``NoProfiler``). 100 batches × 32 columns, 64 tanh
units, SGD lr 0.1, on one thread. Times are the process's CPU time (``time.process_time``), which other
programs on a shared machine lengthen least: on one thread, about the wall time of a quiet machine.
A variant's time per batch is, for each place in the epoch, the shortest interval to the next batch
seen there over the epochs after the first (the variants interleaved), averaged over the places."""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch

from torchtwolayer import TwoLayerNet
from torchtwolayer.data.loader import InMemoryBatches

from .common import goal_row, num_threads, tabular_data

GOAL = "≥ 0.85"
BATCHES_PER_EPOCH = 100  # (the epoch's own work, such as its metrics, spread over as many batches at each size)
N1 = 64
LR = 0.1


Clock = Callable[[], float]


class Timed:
    """An iterable of batches that notes the ``clock`` (CPU time, or a count of calls) at which each
    batch is taken."""

    def __init__(self, batches: Any, clock: Clock) -> None:
        self.batches, self.clock, self.epochs = batches, clock, []

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Any]:
        times: list[float] = []
        self.epochs.append(times)
        for batch in self.batches:
            times.append(self.clock())
            yield batch

    def intervals(self) -> list[list[float]]:
        """CPU seconds from each batch to the next (the last one: to the next epoch's first), per
        epoch after the first (the first warms up)."""
        return [[*(b - a for a, b in itertools.pairwise(now)), after[0] - now[-1]]
                for now, after in itertools.pairwise(self.epochs[1:])]  # fmt: skip


def per_batch(timed: list[Timed]) -> float:
    """Seconds per batch: for each place in the epoch the shortest interval seen there, averaged
    over the places (periodic work at one place, such as tracking every 32 batches, is kept)."""
    epochs = [e for t in timed for e in t.intervals()]
    return statistics.fmean(min(column) for column in zip(*epochs, strict=True))


def bare_loop(X: torch.Tensor, Y: torch.Tensor, batch: int, epochs: int, clock: Clock, trivial: bool = False) -> Timed:
    """The bare loop: ``zero_grad``, ``net.cost(X, Y).backward()``, ``step`` (or a one-weight trivial step)."""
    if trivial:
        w = torch.nn.Parameter(torch.zeros(1))
        params, cost = [w], lambda Xb, Yb: w.sum()
    else:
        net = TwoLayerNet(X.shape[1], N1, init="xavier", seed=0)
        params, cost = list(net.parameters()), net.cost
    opt = torch.optim.SGD(params, lr=LR)
    timed = Timed(InMemoryBatches(X, Y, batch), clock)
    for _ in range(epochs + 1):
        for Xb, Yb, *_ in timed:
            opt.zero_grad()
            cost(Xb, Yb).backward()
            opt.step()
    return timed


# ------------------------------------------------------------------ the Lightning variants
def _modules() -> dict[str, Callable[[int], Any]]:
    from lightning.pytorch import LightningModule

    from torchtwolayer.lightning.module import TwoLayerModule

    class Trivial(LightningModule):
        """A one-weight step: what Lightning costs per batch when the step costs nothing."""

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return self.w.sum()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=LR)

    class TrivialManual(Trivial):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch: Any, batch_idx: int) -> None:
            opt = self.optimizers()
            opt.zero_grad()
            self.manual_backward(self.w.sum())
            opt.step()

    class CostOnly(TwoLayerModule):
        """The package's module without its training metrics and divergence check."""

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return self.net.cost(batch[0], batch[1])

    class Manual(TwoLayerModule):
        """Design (b)'s step: manual optimization, the same SGD, ``manual_backward`` and ``step``."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.automatic_optimization = False

        def training_step(self, batch: Any, batch_idx: int) -> None:
            opt = self.optimizers()
            opt.zero_grad()
            self.manual_backward(super().training_step(batch, batch_idx))
            opt.step()

    def ours(cls: type) -> Callable[[int], Any]:
        return lambda n0: cls(n_features=n0, hidden_size=N1, lr=LR, init="xavier")

    return {
        "trivial": lambda n0: Trivial(),
        "trivial manual": lambda n0: TrivialManual(),
        "cost only": ours(CostOnly),
        "ours": ours(TwoLayerModule),
        "manual": ours(Manual),
    }


def _callbacks(folder: str) -> dict[str, Callable[[], list]]:
    """Each of the command's default callbacks alone (what ``torchtwolayer fit`` adds)."""
    from lightning.pytorch.callbacks import EarlyStopping, TQDMProgressBar

    from torchtwolayer.lightning.callbacks import RunSummary, TableEarlyStopping
    from torchtwolayer.lightning.cli import PROGRESS_REFRESH_STEPS
    from torchtwolayer.lightning.kept import MONITOR, checkpoint_callbacks

    def checkpoint(which: int) -> list:
        made = checkpoint_callbacks(True)[which]
        made.dirpath = folder
        return [made]

    return {
        "progress bar": lambda: [TQDMProgressBar(PROGRESS_REFRESH_STEPS)],
        "last.ckpt's callback": lambda: checkpoint(0),
        "best.ckpt's callback": lambda: checkpoint(1),
        "EarlyStopping": lambda: [EarlyStopping(MONITOR, strict=False)],
        "a table's EarlyStopping": lambda: [TableEarlyStopping(MONITOR, strict=False)],
        "RunSummary (with epoch lines)": lambda: [RunSummary(epoch_lines=True)],
    }


def lightning_fit(module: Any, loader: Timed, epochs: int, folder: str, callbacks: list, **trainer: Any) -> Timed:
    """Fit ``epochs`` + 1 epochs with everything off but what ``callbacks`` and ``trainer`` switch on."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Checkpoint, ProgressBar

    off = {"logger": False, "enable_model_summary": False, "num_sanity_val_steps": 0, "limit_val_batches": 0,
           "enable_checkpointing": any(isinstance(c, Checkpoint) for c in callbacks),
           "enable_progress_bar": any(isinstance(c, ProgressBar) for c in callbacks)}  # fmt: skip
    t = pl.Trainer(max_epochs=epochs + 1, default_root_dir=folder, callbacks=callbacks, **{**off, **trainer})
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        t.fit(module, train_dataloaders=loader)
    return loader


FLOOR = "Lightning, trivial step, everything off (the floor)"
BARE = "bare loop, net.cost"
DESIGNS = {"a: automatic": "ours", "b: manual": "manual"}


def variants(
    X: torch.Tensor, Y: torch.Tensor, batch: int, epochs: int, folder: str, clock: Clock = time.process_time
) -> dict[str, Callable]:
    """Each measured variant as a function returning its :class:`Timed` loader."""
    from lightning.pytorch.loggers import CSVLogger
    from torch.utils.data import DataLoader, TensorDataset

    from torchtwolayer.lightning.profiler import NoProfiler

    modules, callbacks = _modules(), _callbacks(folder)

    def fit(module: str, extra: Callable[[], list] = list, loader: Callable[[], Any] | None = None, **kw: Any):
        def run() -> Timed:
            made = {k: v() for k, v in kw.items()}  # (a logger or profiler is made for each run)
            batches = loader() if loader else InMemoryBatches(X, Y, batch)
            return lightning_fit(modules[module](X.shape[1]), Timed(batches, clock), epochs, folder, extra(), **made)

        return run

    ours = {"profiler": NoProfiler}  # what the command adds to a Trainer
    runs: dict[str, Callable] = {
        "bare loop, trivial step": lambda: bare_loop(X, Y, batch, epochs, clock, trivial=True),
        FLOOR: fit("trivial"),
        "  manual optimization": fit("trivial manual"),
        "  + NoProfiler": fit("trivial", **ours),
        "  + CSVLogger": fit("trivial", logger=lambda: CSVLogger(folder, name="bench")),
        **{f"  + {name}": fit("trivial", extra) for name, extra in callbacks.items()},
        "  + a torch DataLoader (shuffled TensorDataset)": fit(
            "trivial", loader=lambda: DataLoader(TensorDataset(X, Y), batch_size=batch, shuffle=True)
        ),
        BARE: lambda: bare_loop(X, Y, batch, epochs, clock),
        "Lightning, net.cost alone, everything off": fit("cost only"),
        "Lightning, TwoLayerModule, everything off": fit("ours"),
        **{f"Lightning, TwoLayerModule ({d}) + NoProfiler": fit(m, **ours) for d, m in DESIGNS.items()},
    }
    return runs


class CallCounter:
    """A clock that counts the Python and C function calls made while :meth:`counting`."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> float:
        return self.calls

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            self.calls += 1

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        sys.setprofile(self._profile)
        try:
            yield
        finally:
            sys.setprofile(None)


def bench_lightning(quick: bool, reps: int) -> list[dict]:
    """CPU µs and function calls per batch of every variant at batch 256, then the goal rows at
    256 and 1024."""
    warnings.filterwarnings("ignore", module="lightning")
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    epochs = 2
    rows: list[dict] = []
    with num_threads(1), tempfile.TemporaryDirectory() as folder:
        for batch in (256, 1024):
            X, Y = tabular_data(8 * batch if quick else BATCHES_PER_EPOCH * batch)
            runs = variants(X, Y, batch, epochs, folder)
            if batch != 256:  # only what the goal rows need
                runs = {k: v for k, v in runs.items() if k == BARE or k.endswith(") + NoProfiler")}
            best = {name: per_batch(timed) for name, timed in _interleaved(runs, reps).items()}
            if batch == 256:
                counter = CallCounter()
                counted = variants(X, Y, batch, epochs, folder, counter)
                for name, v in best.items():
                    with counter.counting():
                        calls = per_batch([counted[name]()])
                    rows.append({"measure": f"batch {batch}: {name}", "us_per_batch": v * 1e6,
                                 "calls_per_batch": calls})  # fmt: skip
                floor = best[FLOOR] - best["bare loop, trivial step"]
                rows.append({"measure": "Lightning's floor beyond a bare trivial step, / a bare net.cost step",
                             "us_per_batch": floor * 1e6, "ratio": floor / best[BARE]})  # fmt: skip
            for design in DESIGNS:
                ours = best[f"Lightning, TwoLayerModule ({design}) + NoProfiler"]
                measure = f"fit / bare loop, batch {batch} ({design})"
                rows.append(goal_row(measure, 1 / ours, 1 / best[BARE], GOAL, "steps_per_s"))
    return rows


def _interleaved(runs: dict[str, Callable[[], Timed]], reps: int) -> dict[str, list[Timed]]:
    """Each variant's timed runs, the variants run in turn ``reps`` times."""
    timed: dict[str, list[Timed]] = {k: [] for k in runs}
    for _ in range(reps):
        for name, run in runs.items():
            timed[name].append(run())
    return timed
