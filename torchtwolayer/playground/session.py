"""A browser tab's session: its run, trained by a worker thread beside the HTTP handlers.

The worker takes ``speed`` gradient steps per frame while playing, at most ``FRAMES_PER_SECOND``
frames a second; the handlers read frames under the same lock, so the page never waits for more
than one frame's steps. A session that no request has touched for ``idle_timeout`` seconds (a
closed tab) is closed by the server and its worker ends.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from . import views
from .run import Run
from .settings import Settings

FRAMES_PER_SECOND = 15


class Session:
    """One tab's run and the thread that trains it.

    Args:
        settings: the first run's settings.
        files: the CSV data sets the server holds, by name.
    """

    def __init__(self, settings: Settings, files: dict[str, Path]) -> None:
        self.files = files
        self.lock = threading.Lock()
        self.playing = threading.Event()
        self.closed = threading.Event()
        self.last_seen = time.monotonic()
        self.run_id = 0
        self._start(settings)
        self.worker = threading.Thread(target=self._work, name="playground-session", daemon=True)
        self.worker.start()

    def _start(self, settings: Settings) -> None:
        run = Run(settings, self.files)  # built outside the lock: a bad setting leaves the old run
        plane = views.Plane(run)
        with self.lock:
            self.run, self.plane = run, plane
            self.run_id += 1

    def touch(self) -> None:
        """The tab is still there."""
        self.last_seen = time.monotonic()

    def idle_for(self) -> float:
        return time.monotonic() - self.last_seen

    # ------------------------------------------------------------ controls
    def control(self, action: str, settings: Settings | None = None) -> None:
        """``play``, ``pause``, ``step`` (one gradient step) or ``reset`` (a new run of ``settings``,
        or of the current settings when none are given)."""
        if action == "play":
            self.playing.set()
        elif action == "pause":
            self.playing.clear()
        elif action == "step":
            self.playing.clear()
            with self.lock:
                self.run.advance(1)
        elif action == "reset":
            self.playing.clear()
            self._start(settings or self.run.settings)
        else:
            raise ValueError(f"unknown action {action!r}: expected play, pause, step or reset")

    def frame(self, run_id: int, since: int, steps: int = -1) -> dict[str, Any]:
        """The current frame; a tab that shows another run (``run_id``) gets the whole run, and a
        tab that shows this one at ``steps`` while paused gets ``{"unchanged": true}``."""
        with self.lock:
            fresh = run_id != self.run_id
            playing = self.playing.is_set()
            if not fresh and not playing and steps == self.run.steps:
                return {"unchanged": True, "run": self.run_id, "playing": False}
            out = views.frame(self.run, self.plane, 0 if fresh else since)
            out["run"], out["playing"] = self.run_id, playing
            if fresh:
                out.update(views.overview(self.run, self.plane))
        return out

    # -------------------------------------------------------------- worker
    def _work(self) -> None:
        period = 1 / FRAMES_PER_SECOND
        while not self.closed.is_set():
            if not self.playing.wait(timeout=0.25):
                continue
            start = time.monotonic()
            with self.lock:
                if self.playing.is_set():  # (a pause, step or reset may have come while waiting for the lock)
                    self.run.advance(self.run.settings.speed)
                if self.run.error is not None:
                    self.playing.clear()
            self.closed.wait(max(0.0, period - (time.monotonic() - start)))

    def close(self, wait: bool = True) -> None:
        """Stop the worker (it ends after the steps it is taking)."""
        self.closed.set()
        self.playing.clear()
        if wait and self.worker is not threading.current_thread():
            self.worker.join(timeout=5)
