"""The page's API, under ``/TOKEN/api/``: sessions, frames, controls, uploads and downloads.

========================  ====  =========================================================
``session``               POST  a new session for the settings in the JSON body
``frame?session&run&since`` GET the current frame (every poll is also the tab's heartbeat)
``control?session``       POST ``{"action": "play"|"pause"|"step"|"reset", "settings": {...}}``
``close?session``         POST the tab is closing: end its session now
``upload?name``           POST a CSV file (the body) as a new data set
``checkpoint?session``    GET  the trained network as a checkpoint ``torchtwolayer predict`` reads
``onnx?session``          GET  the same network as ONNX
========================  ====  =========================================================
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .run import make_data
from .session import Session
from .settings import Settings, parse_settings

if TYPE_CHECKING:
    from .server import PlaygroundHandler

UPLOAD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,60}\.csv")


def route(handler: PlaygroundHandler, method: str, name: str, query: dict[str, str]) -> None:
    """Answer ``method /TOKEN/api/name?query``."""
    server = handler.server
    if (method, name) == ("POST", "session"):
        settings = parse_settings(_json(handler), server.datasets())
        handler.send_json({"session": server.new_session(settings), "datasets": server.datasets()})
    elif (method, name) == ("POST", "upload"):
        handler.send_json({"dataset": _upload(handler, query.get("name", "")), "datasets": server.datasets()})
    elif (method, name) == ("POST", "close"):
        server.close_session(query.get("session", ""))
        handler.send_json({})
    elif name in ("frame", "control", "checkpoint", "onnx"):
        session = server.sessions.get(query.get("session", ""))
        if session is None:
            return handler.send_error_json(
                HTTPStatus.GONE, "this session has ended (the tab was idle); reload the page"
            )
        session.touch()
        _session_route(handler, session, method, name, query)
    else:
        handler.send_error_json(HTTPStatus.NOT_FOUND, f"no API {method} {name}")


def _session_route(handler: PlaygroundHandler, session: Session, method: str, name: str, q: dict[str, str]) -> None:
    if (method, name) == ("GET", "frame"):
        handler.send_json(session.frame(int(q.get("run", 0)), int(q.get("since", 0)), int(q.get("steps", -1))))
    elif (method, name) == ("POST", "control"):
        body = _json(handler)
        given = body.get("settings")
        settings = None if given is None else parse_settings(given, handler.server.datasets())
        session.control(str(body.get("action")), settings)
        handler.send_json({"run": session.run_id})
    elif (method, name) == ("GET", "checkpoint"):
        from .checkpoint import checkpoint_bytes

        with session.lock:
            data = checkpoint_bytes(session.run)
        handler.send_bytes(data, "application/octet-stream", filename="playground.ckpt")
    elif (method, name) == ("GET", "onnx"):
        from .checkpoint import onnx_bytes

        with session.lock:
            data = onnx_bytes(session.run)
        handler.send_bytes(data, "application/octet-stream", filename="playground.onnx")
    else:
        handler.send_error_json(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} {name} is not served")


def _json(handler: PlaygroundHandler) -> dict[str, Any]:
    try:
        value = json.loads(handler.read_body() or b"{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"the request's body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError("the request's body must be a JSON object")
    return value


def _upload(handler: PlaygroundHandler, name: str) -> str:
    """Write the uploaded CSV beside the others and add it as a data set named after the file."""
    server = handler.server
    name = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if not UPLOAD_NAME.fullmatch(name):
        raise ValueError(f"upload a .csv file whose name is letters, digits, '.', '_' or '-'; got {name!r}")
    data = handler.read_body()
    folder = Path(tempfile.mkdtemp(dir=server.upload_dir))  # its own: a refused file replaces no earlier upload
    path = folder / name
    path.write_bytes(data)
    try:  # refused here, with its reason, unless the page can train on it
        make_data(Settings(dataset=name), {**server.files, name: path})
    except Exception:
        shutil.rmtree(folder)
        raise
    server.files[name] = path
    return name
