"""Fixtures for the TUI tests: an in-process simulated kernel with a fixed clock, and helpers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from importlib import resources

import pytest

from setkey_tui.kernel.sim import SimHost, SimKernel, SimTransport
from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.grammar import parse
from setkey_tui.service import KeyService
from setkey_tui.tui.app import SetkeyApp

T0 = 1_700_000_000.0
PID = 4242


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


class Clock:
    """A settable clock shared by the simulated kernel and the app."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def example_text() -> str:
    """The example scenario shipped with the package."""
    return resources.files("setkey_tui.scenarios").joinpath("example.conf").read_text(encoding="utf-8")


def apply_script(host: SimHost, text: str) -> None:
    """Apply setkey statements to the simulated kernel directly (pid fixed), before or during a test."""
    svc = KeyService(SimTransport(host), pid=PID)
    try:
        for st in parse(text):
            for msg in compile_statement(st):
                svc.request(msg)
    finally:
        svc.close()


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


async def wait_for(pilot: object, cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Let the app run until ``cond()`` holds (or ``timeout`` seconds pass)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    return cond()
