import pytest
import torch

from torchtwolayer import ACTIVATIONS, HEADS

ALL_ACTIVATIONS = list(ACTIVATIONS)
ALL_HEADS = list(HEADS)


def make_problem(m, n0, n1, n2, output, dtype=torch.float64, seed=0, x_grad=True):
    """Random X, a valid Y for ``output`` and [W1, b1, W2, b2], all leaves requiring grad."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=dtype)

    X = randn(m, n0).requires_grad_(x_grad)
    params = [randn(n1, n0), randn(n1), randn(n2, n1), randn(n2)]
    params = [p.requires_grad_() for p in params]
    if output == "softmax":
        Y = torch.randint(0, n2, (m,), generator=gen)
    elif output == "sigmoid":
        Y = torch.rand(m, n2, generator=gen, dtype=dtype)
    else:
        Y = randn(m, n2)
    return X, Y, params


# Modules whose tests share a costly module fixture (a long fit, a child process, a browser). With -n,
# pytest-xdist builds a module fixture once on each worker that runs one of the module's tests; these
# modules are run whole on one worker instead, so each fixture is built once. (xdist's own
# ``--dist loadgroup`` does this by rewriting test ids, which pytest 9 no longer lets it do.) Modules
# that share a session fixture are one unit together: ONE_WORKER_GROUPS.
ONE_WORKER_MODULES = (
    "test_default_fit.py",  # the default fit: ~20 s
    "test_benchmark.py",  # the quick benchmark run
    "test_export.py",  # a fit per case
    "test_playground.py",  # the browser and the server
)
ONE_WORKER_GROUPS = {  # module: its unit
    "test_bad_input_os.py": "child_process",  # the child process (tests/child_process.py) of both
    "test_interruption.py": "child_process",
}


@pytest.hookimpl(optionalhook=True)  # the hook exists only where pytest-xdist is installed
def pytest_xdist_make_scheduler(config, log):
    """xdist's hook: each test is a unit of work on its own, except the modules above, one unit each
    (or one per group). The units with most tests are handed out first (xdist's ``--loadscope-reorder``,
    its default): the costly modules start at once, and the single tests fill both workers to the end."""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            name = module.rsplit("/", 1)[-1]
            return ONE_WORKER_GROUPS.get(name, module if name in ONE_WORKER_MODULES else nodeid)

    return ModulesOnOneWorker(config, log)


@pytest.fixture(scope="session")
def child_process(request, tmp_path_factory) -> dict:
    """The results of tests/child_process.py, for the parts whose modules are collected (one process)."""
    from child_process import run_child

    collected = {item.path.name for item in request.session.items}
    return run_child(
        tmp_path_factory, killed="test_interruption.py" in collected, os_cases="test_bad_input_os.py" in collected
    )


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


@pytest.fixture
def backward_calls(monkeypatch) -> list[int]:
    """One entry per call of the note's hand-written backward (``TwoLayerCost.backward``)."""
    from torchtwolayer.core.function import TwoLayerCost

    calls: list[int] = []
    backward = TwoLayerCost.backward

    def counted(ctx, *grads):
        calls.append(1)
        return backward(ctx, *grads)

    monkeypatch.setattr(TwoLayerCost, "backward", staticmethod(counted))
    return calls
