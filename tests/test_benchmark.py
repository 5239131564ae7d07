"""The benchmark package runs end to end on tiny sizes, so it cannot rot, and its goal rows say what they claim.

Its "startup" and "busy" sections time whole commands in fresh processes (each ~5 s of start-up, and the
busy one twice, beside a competing process): tens of seconds even when quick, so they are not run here;
`python -m scripts.benchmark --quick --sections startup busy` runs them."""

import json
import math

import pytest
from helpers import ROOT

SECTIONS = ["function", "fused", "loop", "memory", "course", "tabular", "sklearn", "data"]
GOAL_SECTIONS = {"function": 4, "fused": 3, "loop": 12}  # goal rows each section must print


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("benchmark")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ROOT))
        from scripts.benchmark.cli import main

        docs = tmp / "benchmarks.md"
        docs.write_text("".join(f"<!-- benchmark-{s}:start -->\nold\n<!-- benchmark-{s}:end -->\n" for s in SECTIONS))
        results = main(
            ["--quick", "--sections", *SECTIONS, "--json", str(tmp / "b.json"), "--markdown", str(tmp / "b.md"),
             "--docs", str(docs), "--data-dir", str(tmp / "data")]
        )  # fmt: skip
    return results, tmp


def test_every_goal_row_prints_a_finite_ratio_that_is_its_timings_quotient(quick_run):
    results, tmp = quick_run
    for section, n_rows in GOAL_SECTIONS.items():
        rows = [r for r in results[section] if r["goal"] != "—"]  # "—": a ratio given for information
        assert len(rows) == n_rows and all(r["goal"].split()[0] in ("≤", "≥") for r in rows), section
        for r in rows:
            ours, ref = (v for k, v in r.items() if k.startswith(("ours_", "reference_")))
            assert math.isfinite(r["ratio"]) and ours > 0 and ref > 0
            assert r["ratio"] == pytest.approx(ours / ref, rel=1e-12)
            value = float(r["goal"].split()[1])
            assert r["met"] == (r["ratio"] <= value if r["goal"].startswith("≤") else r["ratio"] >= value)
    printed = (tmp / "b.md").read_text()
    for section in GOAL_SECTIONS:
        for r in results[section]:
            assert f"| {r['measure']} |" in printed and f"| {r['goal']} |" in printed
            if r["goal"] == "—":
                assert r["met"] == "—" and r["ratio"] == pytest.approx(r["ours_us"] / r["reference_us"], rel=1e-12)


def test_the_function_section_names_each_sides_threads_and_the_floor(quick_run):
    rows = quick_run[0]["function"]
    goals = [r for r in rows if r["goal"] != "—"]
    assert [r["measure"].split(", ")[1].split()[0] for r in goals] == ["tiny", "medium", "large", "large"]
    assert "floor" in goals[-1]["measure"]
    alone = [r["measure"] for r in rows if r["goal"] == "—"]  # what the checks cost, at each size
    assert [m.split(", ")[1].split()[0] for m in alone] == ["tiny", "medium", "large"]
    assert all(m.startswith("of which the Function alone") for m in alone)
    assert all(len(set(r["threads"].split(" / "))) == 1 for r in rows)  # both sides on the same count
    loop = quick_run[0]["loop"]
    assert {r["measure"].split(" loop")[0] for r in loop} == {"net.cost", "loss(net(X), Y)"}
    assert sum("1 thread" in r["measure"] for r in loop) == 6


def test_the_other_sections_and_the_outputs(quick_run):
    results, tmp = quick_run
    assert set(results) == {"machine", *SECTIONS}
    assert {r["variant"] for r in results["memory"]} == {"ours", "autograd"}
    course = {r["variant"]: r for r in results["course"]}
    # the fused run and numpy follow the same equations from the same start: same costs
    assert abs(course["GradientDescent float64"]["last_cost"] - course["numpy float64"]["last_cost"]) < 1e-9
    tabular = results["tabular"]
    assert {(r["dtype"], r["batch"]) for r in tabular} == {
        (d, b) for d in ("float32", "float64") for b in (64, 256, 1024)
    }
    assert all(r["samples_per_s"] > 0 and 0 <= r["test_acc"] <= 1 for r in tabular)
    sklearn_rows = {r["variant"]: r for r in results["sklearn"]}  # quick: wine, 3 folds, 20 epochs
    assert len(sklearn_rows) == 4 and all(0 < r["accuracy"] <= 1 and r["fit_s"] > 0 for r in sklearn_rows.values())
    data = {(r["file"].split()[0], r["reader"]): r for r in results["data"]}
    assert data["csv", "torchtwolayer data module"]["seconds"] > 0 and ("parquet", "torchtwolayer data module") in data
    assert json.loads((tmp / "b.json").read_text())["machine"]["torch"]
    docs = (tmp / "benchmarks.md").read_text()
    assert "old" not in docs and docs.count("| measure |") == len(GOAL_SECTIONS)


def test_a_child_program_runs_as_a_module_in_its_own_process(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from scripts.benchmark.common import run_child

    assert run_child("readme_step", "3")["seconds_per_step"] > 0  # python -m scripts.benchmark.readme_step 3
