"""Export: ``torch.export`` of the network with a dynamic batch, and the ONNX graph of a run (raw
features → probabilities or target values) in onnxruntime against PyTorch, a numpy reference and
``predict``'s file."""

import csv
import json
import re
import sys
from pathlib import Path

import lightning
import numpy as np
import pytest
import torch
from helpers import QUIET, fit, last_checkpoint, write_csv

from torchtwolayer import TwoLayerNet
from torchtwolayer.commands import main
from torchtwolayer.export import export_onnx, inference_module
from torchtwolayer.lightning.module import TwoLayerModule

ROOT = Path(__file__).resolve().parents[1]
NO_EXTRA = "the onnx extra (onnx, onnxscript, onnxruntime) is not installed: pip install torchtwolayer[onnx]"
FEATURES = ["age", "height", "dose"]
# Each head with its classes, another hidden activation, and raw-feature statistics far from 0/1,
# so that a missing or misplaced standardisation shows.
HEADS = {
    "binary": dict(n_outputs=1, classes=[0.0, 1.0], activation="tanh"),
    "multiclass": dict(n_outputs=3, classes=[2.0, 5.0, 7.0], activation="relu"),
    "regression": dict(n_outputs=1, classes=None, activation="sigmoid"),
}
X_MEAN, X_STD = [40.0, 170.0, -3.0], [12.0, 9.0, 0.5]
Y_MEAN, Y_STD = 100.0, 15.0


def _onnxruntime():
    return pytest.importorskip("onnxruntime", reason=NO_EXTRA)


def make_checkpoint(path: Path, task: str) -> Path:
    """A checkpoint as ``torchtwolayer fit`` writes it (the module's state and hyperparameters, the
    data module's state), with random weights and given statistics, in a fraction of a fit's time."""
    spec = HEADS[task]
    module = TwoLayerModule(
        n_features=3, n_outputs=spec["n_outputs"], task=task, hidden_size=5, activation=spec["activation"],
        init="pytorch", seed=len(task),
    )  # fmt: skip
    regression = task == "regression"
    data = {
        "feature_names": FEATURES, "target_name": "outcome", "task": task, "classes": spec["classes"],
        "x_mean": X_MEAN, "x_std": X_STD,
        "y_mean": Y_MEAN if regression else 0.0, "y_std": Y_STD if regression else 1.0,
    }  # fmt: skip
    ckpt = {
        "state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams), "TwoLayerDataModule": data,
        "pytorch-lightning_version": lightning.__version__,
    }  # fmt: skip
    torch.save(ckpt, path)
    return path


def numpy_reference(ckpt_path: Path, X: np.ndarray) -> np.ndarray:
    """The prediction written out in float64 numpy from the checkpoint's numbers."""
    ckpt = torch.load(ckpt_path, weights_only=True)
    W1, b1, W2, b2 = (ckpt["state_dict"][f"net.{k}"].double().numpy() for k in ("W1", "b1", "W2", "b2"))
    data, g = ckpt["TwoLayerDataModule"], ckpt["hyper_parameters"]["activation"]
    X = (X.astype(np.float64) - data["x_mean"]) / data["x_std"]
    Z1 = X @ W1.T + b1
    A1 = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[g](Z1)
    Z2 = A1 @ W2.T + b2
    if data["task"] == "binary":
        return 1 / (1 + np.exp(-Z2))
    if data["task"] == "multiclass":
        E = np.exp(Z2 - Z2.max(1, keepdims=True))
        return E / E.sum(1, keepdims=True)
    return Z2 * data["y_std"] + data["y_mean"]


def raw_features(m: int, seed: int = 0) -> np.ndarray:
    """(m, 3) float32 rows spread over ±2 standard deviations of the training statistics."""
    return (np.add(X_MEAN, np.multiply(X_STD, np.random.default_rng(seed).normal(size=(m, 3))))).astype(np.float32)


@pytest.fixture(scope="module", params=list(HEADS))
def exported(request, tmp_path_factory):
    """One checkpoint and its ONNX file per head, shared by this module's tests."""
    ort = _onnxruntime()
    folder = tmp_path_factory.mktemp(f"export_{request.param}")
    ckpt = make_checkpoint(folder / "run.ckpt", request.param)
    onnx_path = export_onnx(ckpt, folder / "model.onnx")
    return request.param, ckpt, onnx_path, ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])


# ------------------------------------------------------------------ torch.export


@pytest.mark.parametrize("strict", [False, True], ids=["non-strict", "strict"])
def test_torch_export_of_the_network_has_a_dynamic_batch(strict):
    """The hand-written Function exports (its forward recorded, numpy's tanh replaced by torch's on
    traced tensors), and the program runs at batch sizes other than the example's, equal to eager."""
    net = TwoLayerNet(3, 5, 4, activation="tanh", output="softmax", seed=0)
    batch = torch.export.Dim("batch")
    program = torch.export.export(net, (torch.randn(7, 3),), dynamic_shapes={"X": {0: batch}}, strict=strict)
    for m in (1, 33):
        X = torch.randn(m, 3)
        torch.testing.assert_close(program.module()(X), net(X), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ the ONNX graph


def test_onnx_equals_pytorch_and_a_numpy_reference_on_raw_features(exported):
    task, ckpt, _, session = exported
    predictor = inference_module(ckpt)
    for m in (1, 257):  # the batch is dynamic
        X = raw_features(m, seed=m)
        (got,) = session.run(None, {"features": X})
        with torch.no_grad():
            expected = predictor(torch.from_numpy(X)).numpy()
        assert got.shape == expected.shape == (m, HEADS[task]["n_outputs"])
        scale = max(1.0, np.abs(expected).max())  # regression values are in the target's units (~100)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * scale)
        np.testing.assert_allclose(got, numpy_reference(ckpt, X), rtol=0, atol=1e-5 * scale)
    if task == "multiclass":
        np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-6)


def test_onnx_names_its_input_output_and_metadata(exported):
    task, _, _, session = exported
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.shape, inp.type) == ("features", ["batch", 3], "tensor(float)")
    expected_output = "values" if task == "regression" else "probabilities"
    assert (out.name, out.shape) == (expected_output, ["batch", HEADS[task]["n_outputs"]])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["feature_names"]) == FEATURES
    assert (meta["target_name"], meta["task"], meta["output"]) == ("outcome", task, expected_output)
    classes = HEADS[task]["classes"]
    assert json.loads(meta["classes"]) == (None if classes is None else [int(c) for c in classes])
    assert "features" in session.get_modelmeta().description


# ------------------------------------------------------------------ the command, end to end


def docs_export_blocks() -> list[str]:
    """The ``py`` code blocks of the docs' "Export to ONNX" page: onnxruntime, then Python."""
    return re.findall(r"```py\n(.*?)```", (ROOT / "docs/export.md").read_text(), re.S)


def predict(ckpt: Path, dataset: Path, output: str) -> dict[str, np.ndarray]:
    assert main(["predict", *QUIET, "--ckpt_path", str(ckpt), "--data.dataset", str(dataset), "--output", output]) == 0
    with open(output, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_export_command_matches_predict_on_the_raw_csv(tmp_path, monkeypatch, capsys):
    """fit → predict → export (refusing, then overwriting, a file) → the docs' onnxruntime code."""
    _onnxruntime()
    monkeypatch.chdir(tmp_path)
    train, new = write_csv(tmp_path / "train.csv"), write_csv(tmp_path / "new.csv", n=41, seed=1, target=False)
    assert fit("--data.dataset", str(train), "--trainer.max_steps", "20") == 0
    ckpt = last_checkpoint()
    predicted = predict(ckpt, new, "preds.csv")
    Path("model.onnx").write_text("precious\n")
    capsys.readouterr()
    assert main(["export", "--ckpt_path", str(ckpt), "--output", "model.onnx"]) == 2
    assert "model.onnx already exists" in capsys.readouterr().err
    assert Path("model.onnx").read_text() == "precious\n"
    assert main(["export", "--ckpt_path", str(ckpt), "--output", "model.onnx", "--overwrite"]) == 0
    assert capsys.readouterr().out.strip() == "Wrote model.onnx"
    namespace: dict = {}
    exec(compile(docs_export_blocks()[0], "docs/export.md", "exec"), namespace)
    assert namespace["feature_names"] == ["f1", "f2", "f3"] and namespace["classes"] == [0, 1]
    np.testing.assert_allclose(namespace["P"][:, 0], predicted["p_1"], rtol=0, atol=1e-5)
    assert not list(tmp_path.glob(".model.onnx.*"))  # no temporary file left


def test_export_api_gives_regression_values_in_the_targets_units(tmp_path, monkeypatch):
    """The docs' Python code on a regression run (``--ckpt_path last``); values equal ``predict``'s."""
    ort = _onnxruntime()
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3)) * [1.0, 3.0, 0.2] + [0.0, 10.0, -1.0]
    y = 50 + 10 * np.tanh(X[:, 0] * (X[:, 1] - 10) / 3) + 4 * rng.normal(size=150)
    table = np.column_stack([X, y])
    np.savetxt("train.csv", table, delimiter=",", header="f1,f2,f3,y", comments="", fmt="%.6f")
    np.savetxt("new.csv", table[:40, :3], delimiter=",", header="f1,f2,f3", comments="", fmt="%.6f")
    assert fit("--data.dataset", "train.csv", "--data.task", "regression", "--trainer.max_steps", "20") == 0
    predicted = predict(last_checkpoint(), Path("new.csv"), "preds.csv")
    assert abs(predicted["prediction"].mean() - 50) < 20  # in the target's units, not standardised
    namespace: dict = {}
    exec(compile(docs_export_blocks()[1], "docs/export.md", "exec"), namespace)
    session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].name == "values"
    (values,) = session.run(None, {"features": table[:40, :3].astype(np.float32)})
    np.testing.assert_allclose(values[:, 0], predicted["prediction"], rtol=1e-6, atol=1e-5)
    with torch.no_grad():
        in_torch = namespace["predictor"](torch.from_numpy(table[:40, :3].astype(np.float32)))
    np.testing.assert_allclose(in_torch[:, 0].numpy(), predicted["prediction"], rtol=1e-6, atol=1e-5)


# ------------------------------------------------------------------ bad input, missing extra


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (None, ["--ckpt_path", "nowhere.ckpt"], "checkpoint 'nowhere.ckpt' does not exist"),
        (lambda: Path("bad.ckpt").write_bytes(b"not a checkpoint"), ["--ckpt_path", "bad.ckpt"], "cannot be read"),
        (None, ["--ckpt_path", "last"], "no last.ckpt under runs/torchtwolayer"),
        (lambda: Path("out").mkdir(), ["--ckpt_path", "x.ckpt", "--output", "out"], "out is a folder"),
        (None, ["--ckpt_path", "x.ckpt", "--overwrite", "maybe"], "expected true or false"),
    ],
    ids=["missing", "corrupt", "no-runs", "folder", "bad-flag"],
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


@pytest.mark.parametrize("missing", ["onnx", "onnxscript", "onnxruntime"])
def test_a_missing_extra_names_the_install_command(missing, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, missing, None)  # ``import missing`` now raises ImportError
    with pytest.raises(ImportError, match=re.escape("pip install torchtwolayer[onnx]")):
        export_onnx("any.ckpt", "model.onnx")
    assert main(["export", "--ckpt_path", "any.ckpt"]) == 2
    err = capsys.readouterr().err
    assert f"but {missing} cannot be imported: pip install torchtwolayer[onnx]" in err
    assert not Path("model.onnx").exists()
