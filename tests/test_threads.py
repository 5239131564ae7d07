"""The thread rule: one thread for small CPU work, scoped, and never over the user's own choice."""

import pytest
import torch

from torchtwolayer.core import threads
from torchtwolayer.core.threads import WORK_PER_THREAD, threads_for


@pytest.fixture
def torch_default(monkeypatch):
    """A machine where torch's default is 4 threads and the process runs with it."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_TORCH_DEFAULT", 4)
    monkeypatch.setattr(threads, "_USER_ENVIRONMENT", False)
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(before)


def inside(work, device="cpu"):
    with threads_for(work, device):
        return torch.get_num_threads()


def test_small_cpu_work_runs_on_one_thread_and_the_count_comes_back(torch_default):
    assert inside(1000) == 1
    assert torch.get_num_threads() == 4
    assert inside(WORK_PER_THREAD) == 4  # large work keeps torch's count
    assert inside(1000, "meta") == 4  # not the CPU: nothing to choose


def test_the_count_comes_back_after_an_error(torch_default):
    with pytest.raises(RuntimeError), threads_for(10):
        raise RuntimeError("in the block")
    assert torch.get_num_threads() == 4


def test_a_count_the_user_set_is_left_alone(torch_default, monkeypatch):
    torch.set_num_threads(3)  # torch.set_num_threads by the user
    assert inside(10) == 3
    torch.set_num_threads(4)
    monkeypatch.setattr(threads, "_USER_ENVIRONMENT", True)  # OMP_NUM_THREADS or MKL_NUM_THREADS set
    assert inside(10) == 4


def test_nested_scopes_restore_the_outer_count(torch_default):
    with threads_for(10):
        assert inside(10) == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 4


def test_one_call_in_a_users_loop_keeps_torchs_count_from_a_lower_size(torch_default):
    """Between CALL_WORK_PER_THREAD and WORK_PER_THREAD a scope over a whole loop (GradientDescent) still
    runs on one thread, a scope over one call inside the user's loop (the Functions) does not."""
    from torchtwolayer.core.function import _thread_rule
    from torchtwolayer.core.threads import CALL_WORK_PER_THREAD

    medium = CALL_WORK_PER_THREAD  # multiply-adds of one step
    assert CALL_WORK_PER_THREAD < WORK_PER_THREAD
    assert inside(medium) == 1
    with threads_for(medium, "cpu", CALL_WORK_PER_THREAD):
        assert torch.get_num_threads() == 4
    assert inside(medium // 2) == 1
    m = 1024  # step_work(1024, 32, 64, 1) = 6.5 M multiply-adds: the user-loop benchmark's largest batch
    X, W1, W2 = torch.zeros(m, 32), torch.zeros(64, 32), torch.zeros(1, 64)
    with _thread_rule(X, W1, W2):
        assert torch.get_num_threads() == 4
    with _thread_rule(X[:256], W1, W2):  # 1.6 M: one thread
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 4
