"""The playground's HTTP server: the standard library's ``ThreadingHTTPServer``, one thread per request.

Every path starts with the server's random token (``/TOKEN/...``, so that the page's relative
module imports carry it); any other path is refused with 403, as is a request whose Host header
is neither the bound address nor localhost, nor, on a wildcard address, an IP address (DNS
rebinding). Sessions are trained by their own worker threads (:mod:`.session`); a reaper closes
those no tab has polled for ``idle_timeout`` s.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import mimetypes
import secrets
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .session import Session
from .settings import Settings, builtin_names

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")  # every interface of this machine
MAX_UPLOAD = 20 * 2**20  # bytes of an uploaded CSV
MAX_SESSIONS = 16
STATIC = resources.files(__package__) / "static"


class PlaygroundServer(ThreadingHTTPServer):
    """Serves the page and its API; holds the sessions and the CSV data sets by name.

    Args:
        host, port: where to listen (port 0: a free port).
        files: CSV data sets, by the name the page shows.
        upload_dir: where uploaded CSV files are written.
        idle_timeout: seconds without a request after which a session is closed.
    """

    daemon_threads = True

    def __init__(
        self, host: str, port: int, files: dict[str, Path], upload_dir: Path, idle_timeout: float = 20.0
    ) -> None:
        if ":" in host:  # an IPv6 address
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), PlaygroundHandler)
        self.token = secrets.token_urlsafe(24)
        self.host = host
        self.files, self.upload_dir, self.idle_timeout = dict(files), upload_dir, idle_timeout
        self.sessions: dict[str, Session] = {}
        self.sessions_lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="playground-reaper", daemon=True)
        self._reaper.start()

    @property
    def url(self) -> str:
        host = self.server_address[0]
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server_address[1]}/{self.token}/"

    def allowed_host(self, header: str | None) -> bool:
        """The Host header names the bound address or localhost (any port); on a wildcard address
        (``--host 0.0.0.0`` or ``::``, to be reached from other machines), any IP address too. A DNS
        rebinding attack needs a name of the attacker's that resolves here: a name other than
        localhost is refused, an address typed in the browser is not one."""
        if not header:
            return False
        name = urlsplit(f"//{header}").hostname or ""
        if name in (*LOCAL_NAMES, self.host.strip("[]")):
            return True
        return self.host.strip("[]") in WILDCARD_ADDRESSES and _is_ip_address(name)

    def datasets(self) -> list[str]:
        return [*builtin_names(), *self.files]

    def new_session(self, settings: Settings) -> str:
        with self.sessions_lock:
            if len(self.sessions) >= MAX_SESSIONS:
                raise ValueError(f"{MAX_SESSIONS} tabs are open already; close one")
        session = Session(settings, self.files)
        key = secrets.token_urlsafe(12)
        with self.sessions_lock:
            self.sessions[key] = session
        return key

    def close_session(self, key: str) -> None:
        with self.sessions_lock:
            session = self.sessions.pop(key, None)
        if session is not None:
            session.close(wait=False)

    def _reap(self) -> None:
        while not self._stop.wait(min(1.0, self.idle_timeout / 4)):
            with self.sessions_lock:
                idle = [k for k, s in self.sessions.items() if s.idle_for() > self.idle_timeout]
            for key in idle:
                self.close_session(key)

    def server_close(self) -> None:
        """Stop listening and end every session's worker."""
        self._stop.set()
        super().server_close()
        with self.sessions_lock:
            sessions, self.sessions = list(self.sessions.values()), {}
        for session in sessions:
            session.close()


class PlaygroundHandler(BaseHTTPRequestHandler):
    """One request: check the Host header and the token, then serve a static file or the API."""

    server: PlaygroundServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL, not one line per frame."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        if not self.server.allowed_host(self.headers.get("Host")):
            return self.send_error_json(
                HTTPStatus.FORBIDDEN, "the Host header must be the server's address or localhost"
            )
        parts = urlsplit(self.path)
        token, _, rest = parts.path.lstrip("/").partition("/")
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            return self.send_error_json(HTTPStatus.FORBIDDEN, "open the URL the playground printed: it holds the token")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            if rest.startswith("api/"):
                from .api import route

                route(self, method, rest[4:], query)
            elif method == "GET":
                self._static(rest or "index.html")
            else:
                self.send_error_json(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} {rest} is not served")
        except ConnectionError:  # the tab went away mid-reply: nobody to answer, nothing to report
            self.close_connection = True
        except (ValueError, TypeError, OSError, LookupError) as error:
            self.send_error_json(HTTPStatus.BAD_REQUEST, str(error).replace("\n", " "))

    def _static(self, name: str) -> None:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return self.send_error_json(HTTPStatus.NOT_FOUND, f"no file {name!r}")
        kind = "text/javascript" if name.endswith(".js") else mimetypes.guess_type(name)[0] or "text/plain"
        self.send_bytes(path.read_bytes(), f"{kind}; charset=utf-8")

    # ------------------------------------------------------------- replies
    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_UPLOAD:
            raise ValueError(f"the upload is {length} bytes; the playground takes files up to {MAX_UPLOAD} bytes")
        return self.rfile.read(length)

    def send_json(self, value: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_bytes(json.dumps(value).encode(), "application/json", status)

    def send_bytes(
        self, data: bytes, kind: str, status: HTTPStatus = HTTPStatus.OK, filename: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; connect-src 'self'")
        if filename is not None:
            self.send_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(self, status: HTTPStatus, message: str) -> None:
        if self.command == "POST":  # the body was not read: the connection cannot be reused
            self.close_connection = True
        self.send_json({"error": message}, status)


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
