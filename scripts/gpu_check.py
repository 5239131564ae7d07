"""Everything that needs a GPU, in one go (a few minutes), for whoever has CUDA:

    python scripts/gpu_check.py

1. gradcheck/gradgradcheck of every activation × head on CUDA (float64), against autograd and
   finite differences (``torchtwolayer check --device cuda``);
2. bf16 autocast and torch.compile(fullgraph=True) on CUDA, gradients against float32 eager;
3. a short ``torchtwolayer fit --trainer.accelerator gpu`` on the flower;
4. the Function-level benchmark on CUDA.

Exits 0 when every check passes, 1 otherwise; prints a note and exits 0 without CUDA.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch


def autocast_and_compile() -> bool:
    from torchtwolayer import TwoLayerNet

    net = TwoLayerNet(32, 64, seed=0, device="cuda")
    X = torch.randn(256, 32, device="cuda")
    Y = (X[:, 0] > 0).float()
    g32 = torch.autograd.grad(net.cost(X, Y), list(net.parameters()))
    ok = True
    for dtype in (torch.bfloat16, torch.float16):
        with torch.autocast("cuda", dtype=dtype):
            J = net.cost(X, Y)
        g = torch.autograd.grad(J, list(net.parameters()))
        err = max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(g, g32, strict=True))
        print(f"autocast {dtype}: cost {J.dtype}, max relative gradient error {err:.2e}")
        ok &= J.dtype == torch.float32 and err < 5e-2
    compiled = torch.compile(net, fullgraph=True)
    Z, Z_eager = compiled(X), net(X)
    err = (Z - Z_eager).abs().max().item()
    print(f"torch.compile(fullgraph=True): max |compiled − eager| = {err:.2e}")
    return ok and err < 1e-4


def short_fit() -> bool:
    from torchtwolayer.commands import main

    with tempfile.TemporaryDirectory() as runs:
        args = ["fit", "--trainer.accelerator", "gpu", "--trainer.devices", "1", "--trainer.max_steps", "2000",
                "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", runs,
                "--trainer.logger.init_args.save_dir", runs]  # fmt: skip
        return main(args) == 0


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to check (run this on a machine with a GPU)")
        return 0
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    start = time.perf_counter()
    from torchtwolayer.check import main as check

    results = {"gradient checks": check(["--device", "cuda", "--m", "8", "--n1", "5"]) == 0}
    results["autocast and compile"] = autocast_and_compile()
    results["fit on the GPU"] = short_fit()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: scripts.benchmark
    from scripts.benchmark.cli import main as benchmark

    benchmark(["--sections", "function", "--device", "cuda", "--reps", "5"])
    for name, ok in results.items():
        print(f"{name}: {'passed' if ok else 'FAILED'}")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
