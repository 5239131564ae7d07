import subprocess
import sys

from torchtwolayer.check import main, run_checks


def test_every_variant_passes_at_small_sizes():
    results = run_checks(m=3, n0=2, n1=3, n2=2)
    assert len(results) == 5 * 3 + 5
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    assert max(r.max_err_autograd for r in results) < 1e-12


def test_check_command_prints_a_table_and_exits_zero(capsys):
    assert main(["--m", "2", "--n0", "1", "--n1", "2", "--n2", "1", "--activations", "tanh"]) == 0
    out = capsys.readouterr().out
    assert "| two_layer_cost[tanh,softmax] | m=2 1->2->2 | yes |" in out
    assert "4 passed, 0 failed" in out


def test_check_is_reachable_as_python_dash_m():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torchtwolayer",
            "check",
            "--m",
            "2",
            "--activations",
            "relu",
            "--outputs",
            "identity",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 passed, 0 failed" in proc.stdout


def test_check_rejects_bad_sizes(capsys):
    from torchtwolayer.commands import main as command

    assert command(["check", "--m", "0"]) == 2
    assert "--m must be a positive integer, got 0" in capsys.readouterr().err


def test_check_prints_each_variant_as_it_finishes(monkeypatch, capsys):
    import torchtwolayer.check as check

    printed_before_next = []
    real = check.check_variant

    def spy(*args, **kwargs):  # before each variant runs, the rows printed so far
        printed_before_next.append(capsys.readouterr().out.count("| two_layer"))
        return real(*args, **kwargs)

    monkeypatch.setattr(check, "check_variant", spy)
    assert check.main(["--m", "2", "--n0", "1", "--n1", "2", "--n2", "1", "--activations", "tanh", "relu"]) == 0
    assert printed_before_next == [0, 1, 1, 1, 1, 1, 1, 1]  # each row appears before the next variant starts
