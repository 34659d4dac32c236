"""Fixtures for the TUI tests: an in-process simulated kernel with a fixed clock, and helpers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from setkey_tui.kernel.sim import SimHost, SimKernel, SimTransport
from setkey_tui.tui.app import SetkeyApp
from setkey_tui.tui.screenshots import PID, Clock


@pytest.fixture(autouse=True)
def _utc() -> None:
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
    """A simulated kernel, its clock, and a factory for apps on it."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.host = SimHost(SimKernel(clock=self.clock, seed=1))

    def opener(self) -> SimTransport:
        """A new socket on the kernel."""
        return SimTransport(self.host, description="simulated kernel (test)")

    def app(self, **kw: object) -> SetkeyApp:
        """An app on this kernel with the fixed clock."""
        kw.setdefault("now", self.clock)
        kw.setdefault("pid", PID)
        return SetkeyApp(self.opener, **kw)  # type: ignore[arg-type]


@pytest.fixture
def env() -> Env:
    """A fresh simulated kernel per test."""
    return Env()


async def wait_for(pilot: object, cond: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Let the app run until ``cond()`` holds (or ``timeout`` seconds pass: generous, for a loaded CI machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    return cond()
