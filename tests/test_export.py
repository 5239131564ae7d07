"""Export: onnxruntime on raw CSV rows gives what ``torchtwolayer predict`` gives for the same rows,
for every head, with numeric and text columns, blank cells, an unseen category, and text, integer
and boolean class labels; the graph's inputs, outputs, opsets and metadata; the self-check; bad input.

Tolerances: probabilities and values to 1e-5 (values relative to max(1, |value|)). The graph and
``predict`` do the same float32 operations in the same order (standardise, two matrix products, the
link); only the matrix products' summation order differs between onnxruntime's and torch's kernels
and between CPUs (AVX-512, AVX2, ARM): with n0 ≤ 8 and n1 = 4 terms of size ≤ ~10 each, that is a
few float32 ulps of values ≤ ~100, far under 1e-5 after the link. Labels must be equal: none of
these rows is within 1e-5 of a decision boundary (asserted, so a tie cannot make the test flaky).
"""

import csv
import io
import json
import math
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import QUIET, fit, last_checkpoint

from torchtwolayer.commands import main
from torchtwolayer.export import export_onnx
from torchtwolayer.lightning import callbacks

ROOT = Path(__file__).resolve().parents[1]

NO_EXTRA = "the onnx extra (onnx, onnxruntime) is not installed: pip install torchtwolayer[onnx]"
COLOURS = ["red", "blue", "green"]

# The docs' example: onnxruntime alone scores raw CSV rows (kept identical to the DOCS text).
EXAMPLE = """
import csv
import json

import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
with open("new.csv", newline="") as f:
    rows = list(csv.DictReader(f))
feeds = {}
for i in session.get_inputs():  # one input per feature column, named as in the file, shape (batch, 1)
    cells = [row[i.name] for row in rows]
    if i.type == "tensor(float)":  # a number; a blank cell is NaN
        feeds[i.name] = np.array([float(c) if c.strip() else np.nan for c in cells], dtype=np.float32).reshape(-1, 1)
    else:  # a category, as text
        feeds[i.name] = np.array(cells, dtype=object).reshape(-1, 1)
outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
classes = json.loads(session.get_modelmeta().custom_metadata_map["classes"])
for k in range(len(rows)):
    if classes is None:  # regression: the target in its own units
        print(outputs["values"][k])
    else:  # the class, then the probability of each of classes
        print(outputs["label"][k], *(f"{p:.6f}" for p in outputs["probabilities"][k]))
"""


def _onnxruntime():
    return pytest.importorskip("onnxruntime", reason=NO_EXTRA)


def _label(score: float, case: str) -> str:
    if case == "multiclass":
        return str([2, 5, 7][int(np.digitize(score, [3.6, 4.6]))])  # integer classes
    if case == "regression":
        return f"{100 + 15 * (score - 4):.4f}"  # a target in its own units
    yes = score > 4.1
    return {"binary": "yes" if yes else "no", "binary-bool": "true" if yes else "false"}[case]


def write_table(path: Path, case: str, n: int, seed: int, target: bool, scoring: bool = False) -> Path:
    """age, colour (text), dose, grade (integers, one-hot with --data.categorical for multiclass),
    const (a constant column) and the target ``answer``; blank cells where the case imputes; the
    scored rows add an unseen colour and grade, blank and ``NA`` cells, and spell the grades
    ``1.0``, ``02``, ``3`` (the numbers 1, 2, 3 to predict and to the graph's float input)."""
    rng = np.random.default_rng(seed)
    blanks = CASES[case]["impute"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["age", "colour", "dose", "grade", "const", *(["answer"] * target)])
        for i in range(n):
            age, dose, grade = rng.normal(40, 10), rng.normal(), int(rng.integers(1, 4))
            colour = COLOURS[i % 3]
            score = age / 10 + dose + (colour == "red") + 0.3 * grade
            if scoring:
                colour = ["red", "blue", "purple", "green", "", "NA"][i % 6] if blanks else colour
                colour = "purple" if not blanks and i % 5 == 2 else colour
                grade = 9 if i % 7 == 3 else "" if blanks and i % 9 == 5 else ["1.0", "02", "3"][grade - 1]
            cells = [f"{age:.3f}", colour, f"{dose:.3f}", grade, 1.5]
            if blanks and i % 11 == 4:
                cells[0] = ""  # a blank number
            if blanks and i % 13 == 6 and not scoring:
                cells[1] = ""  # a blank category in training: the "missing" category
            w.writerow([*cells, *([_label(score, case)] * target)])
    return path


CASES = {
    "binary": dict(impute=True, flags=[]),
    "multiclass": dict(impute=True, flags=["--data.categorical", "[grade]"]),
    "binary-bool": dict(impute=False, flags=["--data.features", "[age,colour,dose]"]),
    "regression": dict(impute=True, flags=["--data.task", "regression"]),
}


@pytest.fixture(scope="module", params=list(CASES))
def run(request, tmp_path_factory):
    """One fit per case (5 steps, no pictures), its predictions of the scored file, and its export."""
    _onnxruntime()
    case, spec = request.param, CASES[request.param]
    folder = tmp_path_factory.mktemp(f"export_{case}")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setattr(callbacks, "draw_run_pictures", lambda *args: [])  # (the PNGs took half of each fit's time)
        write_table(folder / "train.csv", case, 150, seed=0, target=True)
        write_table(folder / "new.csv", case, 42, seed=1, target=False, scoring=True)
        impute = ["--data.impute", "median"] if spec["impute"] else []
        args = ["--data.dataset", "train.csv", "--data.target", "answer", "--trainer.max_steps", "5"]
        assert fit(*args, *impute, *spec["flags"], "--model.hidden_size", "4") == 0
        ckpt = folder / last_checkpoint()
        predict = ["predict", *QUIET, "--ckpt_path", str(ckpt), "--data.dataset", "new.csv", "--output", "preds.csv"]
        assert main(predict) == 0
        with open("preds.csv", newline="") as f:
            predicted = list(csv.DictReader(f))
        export_onnx(ckpt, "model.onnx")
    return case, folder, ckpt, predicted


def _run_example(folder: Path) -> list[list[str]]:
    """The docs' example in ``folder``: its printed lines, split."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, redirect_stdout(out):
        mp.chdir(folder)
        exec(compile(EXAMPLE, "example", "exec"), {})
    return [line.split() for line in out.getvalue().splitlines()]


def test_onnxruntime_on_raw_rows_equals_predict(run):
    """The example's printed labels equal predict's; probabilities and values to 1e-5."""
    case, folder, _, predicted = run
    printed = _run_example(folder)
    assert len(printed) == len(predicted) == 42
    if case == "regression":
        got = np.array([float(p[0]) for p in printed])
        want = np.array([float(r["prediction"]) for r in predicted])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        return
    classes = [k for k in predicted[0] if k.startswith("p_")]
    P = np.array([[float(r[k]) for k in classes] for r in predicted])
    assert [p[0] for p in printed] == [r["prediction"] for r in predicted]  # labels: 100 %
    np.testing.assert_allclose(np.array([[float(x) for x in p[1:]] for p in printed]), P, rtol=0, atol=2e-6)
    if P.shape[1] == 2:  # no row within the tolerance of a tie
        assert np.abs(P[:, 1] - 0.5).min() > 1e-5
    else:
        top2 = np.sort(P, 1)[:, -2:]
        assert (top2[:, 1] - top2[:, 0]).min() > 1e-5


def test_probabilities_and_values_to_1e_5(run):
    """The graph's outputs themselves (not printed to 6 digits) against predict's file (9 digits)."""
    ort = _onnxruntime()
    case, folder, _, predicted = run
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    with open(folder / "new.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    feeds = {}
    for i in session.get_inputs():
        cells = [r[i.name] for r in rows]
        if i.type == "tensor(float)":
            feeds[i.name] = np.array([float(c) if c else math.nan for c in cells], dtype=np.float32)[:, None]
        else:
            feeds[i.name] = np.array(cells, dtype=object)[:, None]
    out = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds), strict=True))
    if case == "regression":
        want = np.array([float(r["prediction"]) for r in predicted])
        assert out["values"].dtype == np.float64 and out["values"].shape == (42,)
        assert abs(want.mean() - 100) < 60  # in the target's units, not standardised
        np.testing.assert_allclose(out["values"], want, rtol=1e-5, atol=1e-5)
    else:
        P = np.array([[float(v) for k, v in r.items() if k.startswith("p_")] for r in predicted])
        np.testing.assert_allclose(out["probabilities"], P, rtol=0, atol=1e-5)


def test_blank_cells_are_imputed_where_the_run_imputes_and_nan_where_predict_refuses(run):
    """A blank number or category: the run's fill (finite outputs) with ``--data.impute median``;
    otherwise ``predict`` refuses the file, and the graph's outputs for that row are NaN."""
    ort = _onnxruntime()
    case, folder, _, _ = run
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    for blank in ("age", "colour"):
        feeds = {
            i.name: np.array([[math.nan if i.name == blank else 40.0]], dtype=np.float32)
            if i.type == "tensor(float)"
            else np.array([["" if i.name == blank else "red"]], dtype=object)
            for i in session.get_inputs()
        }
        out = session.run(None, feeds)[-1]  # probabilities or values
        assert np.isfinite(out).all() == CASES[case]["impute"], (blank, out)


LABEL_TYPES = {"binary": "tensor(string)", "multiclass": "tensor(int64)", "binary-bool": "tensor(string)"}
CLASSES = {"binary": ["no", "yes"], "multiclass": [2, 5, 7], "binary-bool": [False, True], "regression": None}


def test_the_graph_names_its_inputs_outputs_opsets_and_metadata(run):
    import onnx

    ort = _onnxruntime()
    case, folder, _, _ = run
    model = onnx.load(str(folder / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert {o.domain: o.version for o in model.opset_import} == {"": 17, "ai.onnx.ml": 2}
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    features = ["age", "colour", "dose"] if case == "binary-bool" else ["age", "colour", "dose", "grade", "const"]
    assert [(i.name, i.shape) for i in session.get_inputs()] == [(f, ["batch", 1]) for f in features]
    assert [i.type for i in session.get_inputs()] == [  # grade, one-hot or not, is a number
        "tensor(string)" if f == "colour" else "tensor(float)" for f in features
    ]
    outputs = {o.name: (o.type, o.shape) for o in session.get_outputs()}
    if case == "regression":
        assert outputs == {"values": ("tensor(double)", ["batch"])}
    else:
        n = len(CLASSES[case])
        assert outputs == {"label": (LABEL_TYPES[case], ["batch"]), "probabilities": ("tensor(float)", ["batch", n])}
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["feature_names"]) == features
    assert json.loads(meta["classes"]) == CLASSES[case]  # in their own type
    assert (meta["target_name"], meta["task"]) == ("answer", case.split("-")[0])
    assert json.loads(meta["categories"])["colour"] == ["blue", "green", "red"]
    if case == "multiclass":
        assert json.loads(meta["categories"])["grade"] == [1, 2, 3]


def test_a_feature_named_like_an_output_keeps_its_name(run, tmp_path, monkeypatch):
    """A column called ``label`` (``values`` for regression) stays that input; the output becomes
    ``label_2`` (``values_2``). The run's checkpoint with ``dose`` renamed: no second fit."""
    ort = _onnxruntime()
    case, _, ckpt, _ = run
    monkeypatch.chdir(tmp_path)
    taken = "values" if case == "regression" else "label"
    saved = torch.load(ckpt, weights_only=True)
    state = saved["TwoLayerDataModule"]
    state["feature_names"] = [taken if n == "dose" else n for n in state["feature_names"]]
    next(c for c in state["columns"] if c["name"] == "dose")["name"] = taken
    torch.save(saved, "renamed.ckpt")
    export_onnx("renamed.ckpt", "model.onnx")  # (its self-check scores it against predict)
    session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    assert taken in [i.name for i in session.get_inputs()]
    outputs = ["values_2"] if case == "regression" else ["label_2", "probabilities"]
    assert [o.name for o in session.get_outputs()] == outputs
    assert json.loads(session.get_modelmeta().custom_metadata_map["outputs"]) == outputs


# ------------------------------------------------------------------ the command: files, refusals


def test_export_refuses_an_existing_file_then_overwrites_it_with_the_switch(run, tmp_path, monkeypatch, capsys):
    _, _, ckpt, _ = run
    monkeypatch.chdir(tmp_path)
    Path("model.onnx").write_text("precious\n")
    capsys.readouterr()
    assert main(["export", "--ckpt_path", str(ckpt), "--output", "model.onnx"]) == 2
    assert "model.onnx already exists" in capsys.readouterr().err
    assert Path("model.onnx").read_text() == "precious\n"
    assert main(["export", "--ckpt_path", str(ckpt), "--output", "model.onnx", "--overwrite"]) == 0
    assert capsys.readouterr().out.strip() == "Wrote model.onnx"
    assert Path("model.onnx").read_bytes()[:2] != b"pr"
    assert not list(tmp_path.glob(".model.onnx.*"))  # no temporary file left


def test_the_self_check_refuses_a_graph_that_disagrees_with_predict(run, tmp_path, monkeypatch):
    """A graph that scores differently from predict is not written."""
    from torchtwolayer.export import selfcheck

    case, _, ckpt, _ = run
    real = selfcheck.predicted

    def shifted(ckpt, rows):
        columns = real(ckpt, rows)
        return {k: (v if k == "prediction" and case != "regression" else v + 1e-3) for k, v in columns.items()}

    monkeypatch.setattr(selfcheck, "predicted", shifted)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match=r"disagrees with torchtwolayer predict .* nothing was written"):
        export_onnx(ckpt, "model.onnx")
    assert not Path("model.onnx").exists()


def test_a_checkpoint_whose_categories_do_not_fit_its_network_is_damaged(run, tmp_path, monkeypatch, capsys):
    _, _, ckpt, _ = run
    monkeypatch.chdir(tmp_path)
    saved = torch.load(ckpt, weights_only=True)
    colour = next(c for c in saved["TwoLayerDataModule"]["columns"] if c["name"] == "colour")
    colour["categories"].append("violet")
    torch.save(saved, "edited.ckpt")
    assert main(["export", "--ckpt_path", "edited.ckpt"]) == 2
    err = capsys.readouterr().err
    assert "the checkpoint is damaged: its schema field 'x_mean' should be a list of" in err  # (one per network input)
    assert "Traceback" not in err
    assert not Path("model.onnx").exists()


def _first_numeric(state):
    return state["columns"][0]


DAMAGE = {  # what is edited in the checkpoint's data state → the field the message names (data/schema_state.py)
    "task": (lambda s: s.update(task="evil"), "its schema field 'task' should be one of"),
    "classes": (lambda s: s.update(classes=(s["classes"] or [0, 1])[:1]), "its schema field 'classes'"),
    "names": (
        lambda s: s.update(feature_names=[s["feature_names"][0]] * len(s["feature_names"])),
        "its schema field 'feature_names' should be a list of distinct column names",
    ),
    "std": (lambda s: _first_numeric(s).update(std=0.0), "'columns[0].std' should be a number above 0, got 0.0"),
    "mean": (lambda s: _first_numeric(s).update(mean="x"), "'columns[0].mean' should be a finite number, got 'x'"),
    "kind": (lambda s: s["columns"][-1].update(kind="evil"), "kind' should be 'numeric' or 'categorical', got 'evil'"),
    "impute": (lambda s: s.update(impute="evil"), "its schema field 'impute' should be one of ['none', 'median']"),
}


def test_a_damaged_data_state_is_named_not_a_traceback(run, tmp_path, monkeypatch, capsys):
    """Edited checkpoints: one line saying the checkpoint is damaged and which field (they raised
    onnx's InferenceError or ValidationError, or said "'evil'" or "X contains NaN")."""
    case, _, ckpt, _ = run
    monkeypatch.chdir(tmp_path)
    for damage, (edit, message) in DAMAGE.items():
        if case == "regression" and damage == "classes":
            edit, message = (lambda s: s.update(y_std="x")), "its schema field 'y_std'"
        saved = torch.load(ckpt, weights_only=True)
        edit(saved["TwoLayerDataModule"])
        torch.save(saved, "edited.ckpt")
        assert main(["export", "--ckpt_path", "edited.ckpt"]) == 2, damage
        err = capsys.readouterr().err
        assert "the checkpoint is damaged" in err and message in err and "Traceback" not in err, (damage, err)
        assert not Path("model.onnx").exists()


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (None, ["--ckpt_path", "nowhere.ckpt"], "checkpoint 'nowhere.ckpt' does not exist"),
        (lambda: Path("bad.ckpt").write_bytes(b"not a checkpoint"), ["--ckpt_path", "bad.ckpt"], "cannot be read"),
        (None, ["--ckpt_path", "last"], "no last.ckpt under runs/torchtwolayer"),
        (lambda: Path("out").mkdir(), ["--ckpt_path", "x.ckpt", "--output", "out"], "out is a folder"),
        (None, ["--ckpt_path", "x.ckpt", "--overwrite", "maybe"], "unrecognized arguments: maybe"),
    ],
    ids=["missing", "corrupt", "no-runs", "folder", "overwrite-takes-no-value"],
)
def test_export_command_refuses_bad_input_with_exit_2(make, args, message, tmp_path, monkeypatch, capsys):
    _onnxruntime()
    monkeypatch.chdir(tmp_path)
    if make is not None:
        make()
    before = sorted(tmp_path.rglob("*"))
    try:
        status = main(["export", *args])
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("missing", ["onnx", "onnxruntime"])
def test_a_missing_extra_names_the_install_command(missing, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, missing, None)  # ``import missing`` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install torchtwolayer\[onnx\]"):
        export_onnx("any.ckpt", "model.onnx")
    assert main(["export", "--ckpt_path", "any.ckpt"]) == 2
    err = capsys.readouterr().err
    assert f"but {missing} cannot be imported: pip install torchtwolayer[onnx]" in err
    assert not Path("model.onnx").exists()


@pytest.mark.parametrize("page", ["README.md", "docs/export.md"])
def test_the_pages_show_the_tested_onnxruntime_example(page):
    """The onnxruntime-alone example the README and the export page show is EXAMPLE, which the
    table above runs against predict's file for every head."""
    shown = re.findall(r"```py\n(.*?)```", (ROOT / page).read_text(), re.S)
    assert EXAMPLE.strip() in [block.strip() for block in shown]
