"""Fixtures for the TUI tests: an in-process simulated kernel with a settable clock, and apps on it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from setkey_tui.kernel.sim import SimTransport
from setkey_tui.scenarios.sim import PID, Clock, sim_host
from setkey_tui.tui.app import SetkeyApp
from tests.tui.helpers import record_notifications, wait_for

__all__ = ["Env", "wait_for"]


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    """Timestamps in UTC, as in the recorded data."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


class Env:
    """A simulated kernel, its clock, a factory for apps on it, and what the last app notified."""

    def __init__(self, rcvbuf: int | None = None) -> None:
        self.clock = Clock()
        self.host = sim_host(self.clock, rcvbuf=rcvbuf)
        self.notes: list[str] = []

    def opener(self) -> SimTransport:
        """A new socket on the kernel."""
        return SimTransport(self.host, description="simulated kernel (test)")

    def apply(self, text: str) -> None:
        """Apply a setkey script to the kernel, as another process would."""
        from setkey_tui.scenarios.sim import apply_script

        apply_script(self.host, text, clock=self.clock)

    def app(self, **kw: object) -> SetkeyApp:
        """An app on this kernel with the settable clock; its notifications go to ``self.notes``."""
        kw.setdefault("now", self.clock)
        kw.setdefault("pid", PID)
        app = SetkeyApp(self.opener, **kw)  # type: ignore[arg-type]
        self.notes = record_notifications(app)
        return app


@pytest.fixture
def env() -> Env:
    """A fresh simulated kernel per test."""
    return Env()
