"""The benchmark script runs end to end on tiny sizes, so it cannot rot."""

import json

from helpers import load_script


def test_benchmark_quick_writes_every_section(tmp_path, capsys):
    results = load_script("benchmark").main(
        ["--quick", "--json", str(tmp_path / "b.json"), "--markdown", str(tmp_path / "b.md"),
         "--data-dir", str(tmp_path / "data")]
    )  # fmt: skip
    assert set(results) == {"machine", "function", "memory", "course", "tabular", "data"}
    assert [r["size"].split()[0] for r in results["function"]] == ["tiny", "medium", "large"]
    assert all(r["ours_us"] > 0 and r["ratio"] > 0 for r in results["function"])
    assert "ours_over_floor" in results["function"][-1]
    assert {r["variant"] for r in results["memory"]} == {"ours", "autograd"}
    course = {r["variant"]: r for r in results["course"]}
    # the fused run and numpy follow the same equations from the same start: same costs
    assert abs(course["GradientDescent float64"]["last_cost"] - course["numpy float64"]["last_cost"]) < 1e-9
    assert {r["batch"] for r in results["tabular"]} == {256, 1024}
    data = {(r["file"].split()[0], r["reader"]): r for r in results["data"]}
    assert data["csv", "torchtwolayer data module"]["seconds"] > 0 and ("parquet", "torchtwolayer data module") in data
    assert data["csv", "numpy.loadtxt"]["peak_over_matrix"] >= 0  # quick: in one process, a peak may be 0
    assert data["goal", "numpy.loadtxt / ours ≥ 10"]["seconds"] > 0
    assert json.loads((tmp_path / "b.json").read_text())["machine"]["torch"]
    assert "### function" in (tmp_path / "b.md").read_text()
