"""``torchtwolayer playground``: the server (token, Host, sessions) over urllib, the runs against
TwoLayerNet + GradientDescent in Python, the downloads against ``torchtwolayer predict``, and the
page in Chromium through Playwright (one browser and one server for the module)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import torch

from torchtwolayer import GradientDescent, TwoLayerNet
from torchtwolayer.commands import USAGE, main
from torchtwolayer.data.module import TwoLayerDataModule
from torchtwolayer.playground import cli
from torchtwolayer.playground.run import TEST_FRACTION, Run
from torchtwolayer.playground.server import PlaygroundHandler, PlaygroundServer
from torchtwolayer.playground.settings import Settings, parse_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip


def python_run(s: Settings, steps: int) -> tuple[TwoLayerNet, torch.Tensor, torch.Tensor]:
    """The run of ``s`` written out in Python, as docs/playground.md says."""
    dm = TwoLayerDataModule(
        s.dataset, n_samples=s.n_samples, noise=s.noise, val_fraction=0.0, test_fraction=TEST_FRACTION,
        batch_size=s.batch, seed=s.seed,
    )  # fmt: skip
    X, Y = dm.tensors("train")
    net = TwoLayerNet(2, s.hidden, dm.n_outputs, s.activation, "sigmoid", s.init, seed=s.seed)
    GradientDescent(net, X, Y, s.lr, batch_size=s.batch or None, seed=s.seed).run(steps)
    return net.requires_grad_(False), X, Y


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("csv") / "points.csv"
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(60, 2, generator=gen)
    rows = [f"{a:.6f},{b:.6f},{'yes' if a * b > 0 else 'no'}" for a, b in X.tolist()]
    path.write_text("u,v,label\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, csv_file):
    server = PlaygroundServer("127.0.0.1", 0, {csv_file.name: csv_file}, tmp_path_factory.mktemp("uploads"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def request(url: str, body: object = None, host: str | None = None) -> tuple[int, bytes]:
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if host is not None:
        req.add_header("Host", host)
    try:
        with urllib.request.urlopen(req, timeout=60) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def api(server, name: str, body: object = None) -> dict:
    status, data = request(server.url + "api/" + name, body)
    assert status == 200, data
    return json.loads(data)


# ------------------------------------------------------------------ the server


def test_every_request_needs_the_token_and_a_local_host(server):
    root = f"http://127.0.0.1:{server.server_address[1]}/"
    assert request(server.url)[0] == 200 and b'data-testid="equations"' in request(server.url)[1]
    assert request(server.url + "app.js")[0] == 200
    for url in (root, root + "index.html", root + "x" * 32 + "/", root + "api/session", server.url[:-2] + "/"):
        assert request(url)[0] == 403, url
    assert request(root + "api/session", {})[0] == 403
    for host in ("evil.example", "evil.example:80", f"127.0.0.1.evil.example:{server.server_address[1]}"):
        status, data = request(server.url, host=host)
        assert status == 403 and b"Host" in data, host
    assert request(server.url, host=f"localhost:{server.server_address[1]}")[0] == 200
    assert request(server.url + "../pyproject.toml")[0] in (403, 404)


def test_a_tab_closed_during_a_reply_prints_no_traceback(server, monkeypatch, capsys):
    """The browser went away while its frame was sent: nothing on the terminal but the URL."""

    def gone(self, *args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(PlaygroundHandler, "send_bytes", gone)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(server.url + "app.js", timeout=60)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Broken pipe" not in captured.err


def test_two_sessions_train_apart_and_a_closed_tab_stops_its_worker(server):
    one = api(server, "session", {"hidden": "3"})["session"]
    two = api(server, "session", {"hidden": "5"})["session"]
    for _ in range(3):
        api(server, f"control?session={one}", {"action": "step"})
    first, second = (api(server, f"frame?session={s}&run=0&since=0") for s in (one, two))
    assert (first["steps"], second["steps"]) == (3, 0)
    assert (len(first["neurons"]["data"]), len(second["neurons"]["data"])) == (3, 5)
    api(server, f"control?session={two}", {"action": "play"})
    worker = server.sessions[two].worker
    server.sessions[two].last_seen -= 1000  # the tab stopped polling long ago: the reaper closes it
    worker.join(10)
    assert not worker.is_alive() and two not in server.sessions
    assert request(server.url + f"api/frame?session={two}")[0] == 410
    api(server, f"close?session={one}", b"")  # the tab's beacon as it closes
    assert one not in server.sessions


def test_bad_settings_and_bad_uploads_get_one_line_reasons(server):
    status, data = request(server.url + "api/session", {"hidden": "0"})
    assert status == 400 and "hidden units must be in [1, 32]" in json.loads(data)["error"]
    status, data = request(server.url + "api/upload?name=three.csv", b"a,b,c,y\n" + b"1,2,3,0\n4,5,6,1\n" * 10)
    assert status == 400 and "2 features" in json.loads(data)["error"] and "three.csv" not in server.datasets()
    assert not list(server.upload_dir.rglob("three.csv"))
    reply = api(server, "upload?name=mine.csv", b"x,y,label\n" + b"0,0,0\n1,1,1\n0,1,1\n1,0,0\n" * 5)
    assert reply["dataset"] == "mine.csv" and "mine.csv" in reply["datasets"]
    status, data = request(server.url + "api/upload?name=mine.csv", b"x,y\n1,2\n")  # a bad file of the same name
    assert status == 400 and "mine.csv" in server.datasets()
    assert api(server, "session", {"dataset": "mine.csv"})["session"]  # the first mine.csv is still there


# ----------------------------------------------------------------------- runs


@pytest.mark.parametrize("batch", [0, 32])
def test_a_run_follows_twolayernet_and_gradientdescent_in_python(batch):
    settings = parse_settings(Settings(hidden=3, lr=0.7, batch=batch, seed=4, noise=0.3).to_query(), ["planar"])
    assert settings == Settings(hidden=3, lr=0.7, batch=batch, seed=4, noise=0.3)  # the URL reproduces the run
    run = Run(settings, {})
    run.advance(7)
    run.advance(5)
    net, X, Y = python_run(settings, 12)
    for name in ("W1", "b1", "W2", "b2"):
        torch.testing.assert_close(getattr(run.net, name), getattr(net, name), atol=1e-6, rtol=0)
    assert run.steps == 12 and abs(run.cost - net.cost(X, Y).item()) < 1e-6


@pytest.mark.parametrize(("dataset", "activation"), [("planar", "tanh"), ("blobs", "relu")])
def test_the_equations_panel_shows_the_notes_backward_computed_apart(dataset, activation):
    """The panel's norms against the note's six equations written out here in float64, whose
    gradients are checked against autograd's of J (float32 in the panel: rtol 1e-4)."""
    from torchtwolayer.playground.views import note_equations

    run = Run(Settings(dataset=dataset, hidden=3, activation=activation, lr=0.5, seed=2), {})
    run.advance(3)
    X, y = run.X.double(), run.Y.long()
    n2 = run.net.n2
    Y = y[:, None].double() if n2 == 1 else torch.nn.functional.one_hot(y, n2).double()
    W1, b1, W2, b2 = (getattr(run.net, k).detach().double().requires_grad_() for k in ("W1", "b1", "W2", "b2"))
    m = X.shape[0]
    Z1 = X @ W1.T + b1
    A1 = torch.tanh(Z1) if activation == "tanh" else Z1.clamp_min(0)
    Z2 = A1 @ W2.T + b2
    A2 = torch.sigmoid(Z2) if n2 == 1 else Z2.softmax(1)
    J = -(Y * A2.log() + (1 - Y) * (1 - A2).log()).sum() / m if n2 == 1 else -(Y * A2.log()).sum() / m
    J.backward()
    with torch.no_grad():
        dZ2 = A2 - Y
        dW2, db2 = dZ2.T @ A1 / m, dZ2.sum(0) / m
        dZ1 = (dZ2 @ W2) * ((1 - A1**2) if activation == "tanh" else (Z1 > 0).double())
        dW1, db1 = dZ1.T @ X / m, dZ1.sum(0) / m
    for mine, autograd in ((dW1, W1), (db1, b1), (dW2, W2), (db2, b2)):
        torch.testing.assert_close(mine, autograd.grad, rtol=1e-9, atol=1e-12)
    panel = note_equations(run)
    expected = {"dZ2": dZ2, "dW2": dW2, "db2": db2, "dZ1": dZ1, "dW1": dW1, "db1": db1, "A1": A1, "A2": A2, "J": J}
    for name, value in expected.items():
        assert panel[name]["shape"] == list(value.shape), name
        assert panel[name]["norm"] == pytest.approx(float(value.detach().norm()), rel=1e-4, abs=1e-7), name
    assert panel["dW1"]["shape"] == [3, 2] and panel["dZ2"]["shape"] == [m, n2]


def test_a_diverging_run_stops_with_the_one_divergence_message():
    run = Run(Settings(hidden=3, lr=1e5), {})
    run.advance(10)
    assert run.error is not None and "training diverged by step 10" in run.error and "try α 10000" in run.error
    run.advance(10)
    assert run.steps == 10  # no step after divergence


def test_a_csv_named_on_the_command_line_is_a_data_set(csv_file):
    run = Run(Settings(dataset=csv_file.name, hidden=2), {csv_file.name: csv_file})
    run.advance(3)
    assert run.dm.feature_names == ["u", "v"] and run.dm.classes == ["no", "yes"] and run.steps == 3


def test_the_onnx_download_computes_what_the_run_does(server):
    """ONNX is exported from the checkpoint the page downloads (the page's test runs predict on it)."""
    session = api(server, "session", {"dataset": "moons", "hidden": "4"})["session"]
    for _ in range(4):
        api(server, f"control?session={session}", {"action": "step"})
    status, onnx = request(server.url + f"api/onnx?session={session}")
    assert status == 200
    run = server.sessions[session].run
    raw, _ = run.dm.raw_split("test")
    ort = pytest.importorskip("onnxruntime")
    graph = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    feeds = {i.name: raw[:, [k]].float().numpy() for k, i in enumerate(graph.get_inputs())}  # one input a column
    assert [i.name for i in graph.get_inputs()] == ["x1", "x2"]
    out = dict(zip([o.name for o in graph.get_outputs()], graph.run(None, feeds), strict=True))
    np.testing.assert_allclose(out["probabilities"][:, -1], run.probabilities(run.X_test)[:, 0].numpy(), atol=1e-5)


# -------------------------------------------------------------------- the command


def test_the_command_prints_the_url_and_ctrl_c_exits_0(monkeypatch, capsys):
    assert "playground" in USAGE
    opened = []
    monkeypatch.setattr(cli.webbrowser, "open", opened.append)

    serving_threads = []

    def interrupted(self, poll_interval=0.5):
        serving_threads.append(torch.get_num_threads())
        raise KeyboardInterrupt

    monkeypatch.setattr(PlaygroundServer, "serve_forever", interrupted)
    threads = torch.get_num_threads()
    assert main(["playground", "--port", "0"]) == 0
    assert serving_threads == [1] and torch.get_num_threads() == threads  # one torch thread while serving
    url = capsys.readouterr().out.split("The playground is at ")[1].split()[0]
    assert opened == [url] and urlsplit(url).hostname == "127.0.0.1" and len(urlsplit(url).path) > 30
    assert main(["playground", "--no-browser"]) == 0 and len(opened) == 1
    assert main(["playground", "--no-browser", "--port", "70000"]) == 2


# ------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright; on CI (``CI`` set) a missing one is a failure."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[test]')"
    if missing is None and not shutil.which(CHROMIUM):
        missing = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def context(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context, server):
    """A fresh tab (in the module's browser context) that records console errors and every request
    to another host."""
    tab = context.new_page()
    tab.problems = []
    tab.on("console", lambda m: tab.problems.append(m.text) if m.type in ("error", "warning") else None)
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    port = f"127.0.0.1:{server.server_address[1]}"
    tab.on("request", lambda r: None if urlsplit(r.url).netloc == port else tab.problems.append(r.url))
    yield tab
    assert tab.problems == []  # no console error, no request to another host
    tab.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_page(page, server, **settings) -> None:
    page.goto(server.url + "?" + "&".join(f"{k}={v}" for k, v in settings.items()))
    page.wait_for_selector("[data-testid=neurons] canvas")


def text(page, testid: str) -> str:
    return page.get_by_test_id(testid).text_content()


def test_five_steps_on_the_page_give_the_cost_of_python(page, server):
    open_page(page, server, dataset="planar", hidden=3, lr=0.8, batch=64, seed=2)
    for _ in range(5):
        page.get_by_test_id("step").click()
    expect(page.get_by_test_id("step-count")).to_have_text("5")
    net, X, Y = python_run(Settings(hidden=3, lr=0.8, batch=64, seed=2), 5)
    assert abs(float(text(page, "cost")) - net.cost(X, Y).item()) < 1e-6
    equations = text(page, "equations")
    assert all(name in equations for name in ("dZ2", "dW2", "db2", "dZ1", "dW1", "db1"))
    assert "hidden=3" in page.url and "batch=64" in page.url  # the URL holds the run's settings


def test_play_lowers_the_cost_and_redraws_the_boundary(page, server):
    open_page(page, server, hidden=4, seed=3)
    boundary = "() => document.querySelector('[data-testid=boundary]').toDataURL()"
    before, picture = float(text(page, "cost")), page.evaluate(boundary)
    page.get_by_test_id("play").click()
    page.wait_for_function(
        "() => +document.querySelector('[data-testid=step-count]').textContent >= 100", timeout=30000
    )
    page.get_by_test_id("play").click()
    assert float(text(page, "cost")) < before and page.evaluate(boundary) != picture


def test_a_new_hidden_size_then_reset_draws_that_many_units(page, server):
    open_page(page, server, hidden=2, activation="relu")
    assert page.get_by_test_id("neurons").locator("canvas").count() == 2
    page.get_by_test_id("hidden-size").fill("7")
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("neurons").locator("canvas")).to_have_count(7)
    assert page.get_by_test_id("activation").input_value() == "relu" and "hidden=7" in page.url
    page.get_by_test_id("neurons").locator("figure").nth(2).hover()  # highlights unit 3's weights
    expect(page.locator("#weights tr.hover td").first).to_have_text("h3")


def test_an_uploaded_csv_becomes_the_data_set(page, server, csv_file):
    open_page(page, server, hidden=2)
    page.locator("input[type=file]").set_input_files(str(csv_file))
    expect(page.get_by_test_id("dataset")).to_have_value(csv_file.name)
    page.wait_for_url(f"**dataset={csv_file.name}**")
    assert page.get_by_test_id("neurons").locator("canvas").count() == 2


def test_the_downloaded_checkpoint_predicts_like_the_page(page, server, tmp_path):
    open_page(page, server, dataset="circles", hidden=5, lr=2)
    for _ in range(3):
        page.get_by_test_id("step").click()
    expect(page.get_by_test_id("step-count")).to_have_text("3")
    with page.expect_download() as download:
        page.get_by_test_id("download-checkpoint").click()
    path = tmp_path / "page.ckpt"
    download.value.save_as(path)
    accuracy = float(text(page, "accuracy").split("train, ")[1].split("%")[0]) / 100  # the page's test accuracy
    dm = TwoLayerDataModule("circles", val_fraction=0.0, test_fraction=TEST_FRACTION, batch_size=0, seed=1)
    raw, labels = dm.raw_split("test")
    points = tmp_path / "points.csv"
    np.savetxt(points, raw.double().numpy(), delimiter=",", header="x1,x2", comments="", fmt="%.9g")
    out = tmp_path / "p.csv"
    assert main(["predict", "--ckpt_path", str(path), "--data.dataset", str(points), "--output", str(out)]) == 0
    predicted = np.loadtxt(out, delimiter=",", skiprows=1)[:, 0]
    assert abs((predicted == labels.numpy()).mean() - accuracy) < 1e-3
    net, _, _ = python_run(Settings(dataset="circles", hidden=5, lr=2), 3)
    np.testing.assert_allclose(
        np.loadtxt(out, delimiter=",", skiprows=1)[:, -1], net.predict_proba(dm.transform(raw))[:, 0], atol=1e-5
    )


@pytest.mark.parametrize("bound", ["127.0.0.1", "0.0.0.0"])
def test_a_wildcard_address_accepts_ip_hosts_and_still_refuses_names(bound, tmp_path):
    """--host 0.0.0.0 is for other machines, which type this machine's IP address: accepted; a DNS name
    other than localhost (what a rebinding page needs) is refused on every address."""
    server = PlaygroundServer(bound, 0, {}, tmp_path)
    try:
        wildcard = bound == "0.0.0.0"
        assert server.allowed_host("192.168.1.20:8765") is wildcard
        assert server.allowed_host("[fe80::1]:8765") is wildcard
        assert server.allowed_host("localhost:8765") and server.allowed_host(f"{bound}:8765")
        for name in ("evil.example", "192.168.1.20.evil.example:80", "", None):
            assert not server.allowed_host(name), name
    finally:
        server.server_close()
