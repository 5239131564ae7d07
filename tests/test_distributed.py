"""Data-parallel training and prediction with Lightning's DDP on 2 CPU processes (gloo) match one process.

Each setting is as small as still proves it: 64 rows, 51 of them for training, which split
unevenly between 2 processes (26 + 25 in full batch; the last batch of 16 holds 3 rows, 2 + 1),
and 20 steps. The one-process reference runs in this process.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import QUIET, fit, weights

from torchtwolayer import TwoLayerNet
from torchtwolayer.commands import main
from torchtwolayer.data.loader import InMemoryBatches

# A short process-group timeout: a failing rank cannot hang CI.
DDP = '{"class_path": "lightning.pytorch.strategies.DDPStrategy", "init_args": {"process_group_backend": "gloo", "timeout": "0:01:30"}}'  # noqa: E501
TWO_CPUS = ["--trainer.devices", "2", "--trainer.accelerator", "cpu"]
LAST = "runs/torchtwolayer/version_0/checkpoints/last.ckpt"


def run_child(command: list[str], cwd: Path, timeout: int = 240) -> str:
    proc = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and every rank it started
        raise
    assert proc.returncode == 0, out[-4000:]
    return out


FULL_BATCH = ["--data.n_samples", "64", "--data.full_batch_steps", "10", "--trainer.max_steps", "20"]
BATCH_16 = ["--data.dataset", "moons", "--data.n_samples", "64", "--data.batch_size", "16", "--trainer.max_steps", "20"]


# Real processes cost ~5 s of start-up each, so each is used once: the mini-batch shards train
# under ddp (the command relaunched for rank 1), and predict runs under ddp_spawn (ranks started
# from this process: it also covers the ranks' clean-up of the process group, which ddp_spawn's
# os._exit would skip: TwoLayerModule.teardown). The full-batch shards are checked without
# processes: the ranks' share-scaled gradients, averaged as DDP does, are the one-process gradient.
@pytest.mark.parametrize("batch_size,m", [(0, 51), (16, 51), (16, 64)])
def test_rank_shards_scaled_by_their_share_average_to_the_global_gradient(batch_size, m):
    g = torch.Generator().manual_seed(0)
    X, Y = torch.randn(m, 2, generator=g, dtype=torch.float64), torch.randint(0, 2, (m,), generator=g).double()
    net = TwoLayerNet(2, 3, seed=0, dtype=torch.float64)
    one = InMemoryBatches(X, Y, batch_size, seed=0)
    ranks = [InMemoryBatches(X, Y, batch_size, seed=0, rank=r, world_size=2) for r in range(2)]
    for batch, *shards in zip(one, *ranks, strict=True):
        expected = torch.autograd.grad(net.cost(*batch), list(net.parameters()))
        grads = [torch.autograd.grad(net.cost(Xr, Yr) * share, list(net.parameters())) for Xr, Yr, share in shards]
        for e, g0, g1 in zip(expected, *grads, strict=True):
            torch.testing.assert_close((g0 + g1) / 2, e, rtol=0, atol=1e-12)  # DDP averages the ranks


def test_ddp_spawn_predict_writes_one_complete_ordered_file(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    new = write_points(tmp_path / "new.csv", n=41)
    assert fit(*FULL_BATCH) == 0
    predict = ["predict", *QUIET, "--ckpt_path", LAST, "--data.dataset", str(new)]
    assert main([*predict, "--output", "one.csv"]) == 0
    assert main([*predict, "--output", "two.csv", "--trainer.strategy", "ddp_spawn", *TWO_CPUS]) == 0
    assert "Wrote 41 predictions to two.csv" in capfd.readouterr().out  # written by rank 0's process
    rows1 = [line.split(",") for line in Path("one.csv").read_text().splitlines()]
    rows2 = [line.split(",") for line in Path("two.csv").read_text().splitlines()]
    assert len(rows2) == len(rows1) == 42 and rows2[0] == rows1[0]  # every row, in the file's order
    for a, b in zip(rows1[1:], rows2[1:], strict=True):
        assert a[0] == b[0] and abs(float(a[1]) - float(b[1])) < 1e-6


def test_two_ddp_processes_give_the_weights_of_one_in_mini_batches(tmp_path, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    monkeypatch.chdir(one)
    assert fit(*BATCH_16) == 0
    out = run_child([sys.executable, "-m", "torchtwolayer", "fit", *QUIET, *BATCH_16, "--trainer.strategy", DDP,
                     *TWO_CPUS], two)  # fmt: skip
    assert "Finished after 20 steps" in out and "val   loss" in out
    w1, w2 = weights(one / LAST), weights(two / LAST)
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=0, atol=1e-5)


def write_points(path: Path, n: int) -> Path:
    """``n`` rows of the two features the built-in sets have, for predict."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 2, generator=g).tolist()
    path.write_text("x1,x2\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in X))
    return path
