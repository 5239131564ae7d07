"""The benchmark script runs end to end on tiny sizes, so it cannot rot.

Its "startup" and "busy" sections time whole commands in fresh processes (each ~5 s of
start-up, and the busy one twice, beside a competing process): tens of seconds even when
quick, so they are not run here; `python scripts/benchmark.py --quick --sections startup busy`
runs them."""

import json

from helpers import load_script


def test_benchmark_quick_writes_every_section(tmp_path, capsys):
    sections = ["function", "memory", "course", "tabular", "sklearn", "data"]
    results = load_script("benchmark").main(
        ["--quick", "--sections", *sections, "--json", str(tmp_path / "b.json"), "--markdown", str(tmp_path / "b.md"),
         "--data-dir", str(tmp_path / "data")]
    )  # fmt: skip
    assert set(results) == {"machine", *sections}
    assert [r["size"].split()[0] for r in results["function"]] == ["tiny", "medium", "large"]
    assert all(r["ours_us"] > 0 and r["ratio"] > 0 for r in results["function"])
    assert "ours_over_floor" in results["function"][-1]
    assert {r["variant"] for r in results["memory"]} == {"ours", "autograd"}
    course = {r["variant"]: r for r in results["course"]}
    # the fused run and numpy follow the same equations from the same start: same costs
    assert abs(course["GradientDescent float64"]["last_cost"] - course["numpy float64"]["last_cost"]) < 1e-9
    tabular = results["tabular"]
    assert {(r["dtype"], r["batch"]) for r in tabular} == {
        (d, b) for d in ("float32", "float64") for b in (64, 256, 1024)
    }
    assert {r["variant"] for r in tabular} == {
        "GradientDescent mini-batch", "scikit-learn MLPClassifier", "bare PyTorch loop, same module", "Lightning fit",
        "autograd nn.Sequential",
    }  # fmt: skip
    assert all(r["samples_per_s"] > 0 and 0 <= r["test_acc"] <= 1 for r in tabular)
    sklearn_rows = {r["variant"]: r for r in results["sklearn"]}  # quick: wine, 3 folds, 20 epochs
    assert len(sklearn_rows) == 4 and all(0 < r["accuracy"] <= 1 and r["fit_s"] > 0 for r in sklearn_rows.values())
    assert sklearn_rows["MLPClassifier (defaults: adam, relu)"]["vs_mlp_defaults"] == 0
    data = {(r["file"].split()[0], r["reader"]): r for r in results["data"]}
    assert data["csv", "torchtwolayer data module"]["seconds"] > 0 and ("parquet", "torchtwolayer data module") in data
    assert data["csv", "numpy.loadtxt"]["peak_over_matrix"] >= 0  # quick: in one process, a peak may be 0
    assert data["goal", "numpy.loadtxt / ours ≥ 10"]["seconds"] > 0
    assert json.loads((tmp_path / "b.json").read_text())["machine"]["torch"]
    assert "### function" in (tmp_path / "b.md").read_text()
