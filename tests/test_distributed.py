"""Data-parallel training with Lightning's DDP on 2 CPU processes (gloo) matches one process.

Each setting is as small as still proves it: 64 rows, 51 of them for training, which split
unevenly between 2 processes (26 + 25 in full batch; the last batch of 16 holds 3 rows, 2 + 1),
and 20 steps. The one-process reference runs in
this process; the two-process run is a child ``torchtwolayer`` (DDP starts its second rank by
running the same command again).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from helpers import QUIET, fit, weights

from torchtwolayer.commands import main

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


# Both strategies share the sharding of the data; each child costs ~5 s of start-up per process,
# so the full-batch shards are checked under ddp_spawn and the mini-batch shards under ddp, and
# the ddp_spawn child also predicts (one child process runs both commands).
# ddp_spawn's workers end with os._exit, which skips Lightning's clean-up of the process group;
# the module destroys it at the end of fit (TwoLayerModule.teardown). Before that fix a worker
# once aborted at exit in CI; after it, 30 runs of 30 by hand ended cleanly.
def test_ddp_spawn_full_batch_gives_the_weights_of_one_and_one_ordered_prediction_file(tmp_path, monkeypatch, capfd):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    new = write_points(tmp_path / "new.csv", n=41)
    predict = ["predict", *QUIET, "--ckpt_path", LAST, "--data.dataset", str(new)]
    monkeypatch.chdir(one)
    assert fit(*FULL_BATCH) == 0
    assert main([*predict, "--output", "one.csv"]) == 0
    # ddp_spawn starts fresh interpreters for its ranks, so this process can launch them itself
    spawn = ["--trainer.strategy", "ddp_spawn", *TWO_CPUS]
    monkeypatch.chdir(two)
    assert main(["fit", *QUIET, *FULL_BATCH, *spawn]) == 0
    assert main([*predict, "--output", "two.csv", *spawn]) == 0
    out = capfd.readouterr().out  # the ranks' output, written to this process's stdout
    assert "Finished after 20 steps" in out and "val   loss" in out and "Wrote 41 predictions to two.csv" in out
    w1, w2 = weights(one / LAST), weights(two / LAST)
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=0, atol=1e-5)
    rows1 = [line.split(",") for line in (one / "one.csv").read_text().splitlines()]
    rows2 = [line.split(",") for line in (two / "two.csv").read_text().splitlines()]
    assert len(rows2) == len(rows1) == 42 and rows2[0] == rows1[0]  # every row, in the file's order
    for a, b in zip(rows1[1:], rows2[1:], strict=True):
        assert a[0] == b[0] and abs(float(a[1]) - float(b[1])) < 1e-5


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
