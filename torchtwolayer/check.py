"""``torchtwolayer check``: prove the hand-written backward right at the user's sizes.

For every activation × head it runs ``gradcheck`` and ``gradgradcheck`` (float64)
on :func:`two_layer_cost` and on :func:`two_layer` with X requiring grad, and
compares the hand-written gradients with autograd on the ``nn.functional``
reference and with central finite differences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .core.activations import ACTIVATIONS
from .core.function import two_layer, two_layer_cost
from .core.heads import HEADS
from .core.reference import reference_cost, reference_logits
from .core.threads import step_work, threads_for
from .parsing import CommandParser

ScalarFn = Callable[..., Tensor]


@dataclass(frozen=True)
class CheckResult:
    variant: str
    shape: str
    gradcheck: bool
    gradgradcheck: bool
    max_err_autograd: float
    max_err_finite_diff: float

    @property
    def passed(self) -> bool:
        return (
            self.gradcheck and self.gradgradcheck and self.max_err_autograd < 1e-10 and self.max_err_finite_diff < 1e-6
        )


def random_problem(
    m: int, n0: int, n1: int, n2: int, output: str, generator: torch.Generator, device: str = "cpu"
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """X (m, n0) requiring grad, a valid Y for ``output``, and [W1, b1, W2, b2], float64, on ``device``."""

    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64).to(device).requires_grad_()

    X = randn(m, n0)
    params = [randn(n1, n0), randn(n1), randn(n2, n1), randn(n2)]
    if output == "softmax":
        Y = torch.randint(0, n2, (m,), generator=generator)
    elif output == "sigmoid":
        Y = torch.rand(m, n2, generator=generator, dtype=torch.float64)
    else:
        Y = torch.randn(m, n2, generator=generator, dtype=torch.float64)
    return X, Y.to(device), params


def finite_difference_grad(f: ScalarFn, inputs: Sequence[Tensor], eps: float = 1e-6) -> list[Tensor]:
    """Central differences (f(x + ε) − f(x − ε)) / 2ε of a scalar ``f`` for every entry of every input."""
    grads = []
    with torch.no_grad():
        for t in inputs:
            g = torch.zeros_like(t)
            flat, gflat = t.view(-1), g.view(-1)
            for i in range(flat.numel()):
                orig = flat[i].item()
                flat[i] = orig + eps
                up = f(*inputs).item()
                flat[i] = orig - eps
                down = f(*inputs).item()
                flat[i] = orig
                gflat[i] = (up - down) / (2 * eps)
            grads.append(g)
    return grads


def _max_abs_diff(a: Sequence[Tensor], b: Sequence[Tensor]) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a, b, strict=True))


def check_variant(name: str, shape: str, hand: ScalarFn, ref: ScalarFn, inputs: list[Tensor]) -> CheckResult:
    """Compare the hand-written scalar function ``hand`` with the autograd reference ``ref``."""
    ok1 = torch.autograd.gradcheck(hand, inputs, raise_exception=False)
    ok2 = torch.autograd.gradgradcheck(hand, inputs, raise_exception=False)
    g_hand = torch.autograd.grad(hand(*inputs), inputs)
    g_ref = torch.autograd.grad(ref(*inputs), inputs)
    g_fd = finite_difference_grad(hand, inputs)
    return CheckResult(name, shape, ok1, ok2, _max_abs_diff(g_hand, g_ref), _max_abs_diff(g_hand, g_fd))


def run_checks(
    m: int = 6,
    n0: int = 3,
    n1: int = 4,
    n2: int = 2,
    activations: Sequence[str] = tuple(ACTIVATIONS),
    outputs: Sequence[str] = tuple(HEADS),
    seed: int = 0,
    device: str = "cpu",
) -> list[CheckResult]:
    """One :class:`CheckResult` per (function, activation, head). Softmax uses max(n2, 2) outputs."""
    return list(iter_checks(m, n0, n1, n2, activations, outputs, seed, device))


def iter_checks(
    m: int, n0: int, n1: int, n2: int, activations: Sequence[str], outputs: Sequence[str], seed: int, device: str
) -> Iterator[CheckResult]:
    """:func:`run_checks`, one result at a time, as each variant finishes."""
    gen = torch.Generator().manual_seed(seed)
    with threads_for(step_work(m, n0, n1, max(n2, 2)), device):
        for act in activations:
            for out in outputs:
                k = max(n2, 2) if out == "softmax" else n2
                X, Y, params = random_problem(m, n0, n1, k, out, gen, device)
                shape = f"m={m} {n0}->{n1}->{k}"

                def hand(X, W1, b1, W2, b2, act=act, out=out, Y=Y):
                    return two_layer_cost(X, Y, W1, b1, W2, b2, act, out)

                def ref(X, W1, b1, W2, b2, act=act, out=out, Y=Y):
                    return reference_cost(X, Y, W1, b1, W2, b2, act, out)

                yield check_variant(f"two_layer_cost[{act},{out}]", shape, hand, ref, [X, *params])
            X, _, params = random_problem(m, n0, n1, n2, "identity", gen, device)
            v = torch.randn(m, n2, generator=gen, dtype=torch.float64).to(device)  # reduce Z2 to a scalar: Σ v ⊙ Z2

            def hand_z(X, W1, b1, W2, b2, act=act, v=v):
                return (v * two_layer(X, W1, b1, W2, b2, act)).sum()

            def ref_z(X, W1, b1, W2, b2, act=act, v=v):
                return (v * reference_logits(X, W1, b1, W2, b2, act)).sum()

            yield check_variant(f"two_layer[{act}]", f"m={m} {n0}->{n1}->{n2}", hand_z, ref_z, [X, *params])


TABLE_HEADER = (
    "| variant | shape | passed | gradcheck | gradgradcheck | max |hand − autograd| | max |hand − finite diff| |\n"
    "|---|---|---|---|---|---|---|"
)


def format_row(r: CheckResult) -> str:
    return (
        f"| {r.variant} | {r.shape} | {'yes' if r.passed else 'NO'} | {r.gradcheck} | {r.gradgradcheck} "
        f"| {r.max_err_autograd:.2e} | {r.max_err_finite_diff:.2e} |"
    )


def format_table(results: Sequence[CheckResult]) -> str:
    """A markdown table: variant, shape, passed, gradcheck, gradgradcheck and the two max errors."""
    return "\n".join([TABLE_HEADER, *map(format_row, results)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(
        prog="torchtwolayer check",
        description="Verify the hand-written backward against autograd and finite differences "
        "(float64) for every activation × head, at the sizes given.",
    )
    parser.add_argument("--m", type=int, default=6, help="examples (default 6)")
    parser.add_argument("--n0", type=int, default=3, help="input features (default 3)")
    parser.add_argument("--n1", type=int, default=4, help="hidden units (default 4)")
    parser.add_argument("--n2", type=int, default=2, help="outputs (default 2; softmax uses at least 2)")
    parser.add_argument("--activations", nargs="+", choices=sorted(ACTIVATIONS), default=list(ACTIVATIONS))
    parser.add_argument("--outputs", nargs="+", choices=sorted(HEADS), default=list(HEADS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="where to run the checks, e.g. cuda")
    args = parser.parse_args(argv)
    for name in ("m", "n0", "n1", "n2"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    print(TABLE_HEADER, flush=True)
    results = []
    for r in iter_checks(args.m, args.n0, args.n1, args.n2, args.activations, args.outputs, args.seed, args.device):
        print(format_row(r), flush=True)  # one line per variant as it finishes: large sizes take a while
        results.append(r)
    failed = [r.variant for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
