"""Helpers for the TUI tests: waits that assert their condition, filling a form as a user does, notifications
recorded through the public ``notify`` call, and snapshots without a blinking cursor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.widgets import Input, Select

from setkey_tui.tui.screenshots import dumps_summarised, footer_steady, logs_at_end, still

# What the monitor holds once the app's first dumps are in: the two X_PROMISC messages of the listener (the
# dump replies are the app's own: one summary line each, never decoded).
EXAMPLE_MESSAGES = 2


async def wait_for(pilot: Any, cond: Callable[[], bool], timeout: float = 30.0, what: str = "") -> bool:
    """Let the app run until ``cond()`` holds; fail the test when it does not within ``timeout`` seconds
    (generous, for a loaded machine). Returns True so that ``assert await wait_for(...)`` reads well."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            raise AssertionError(f"still not true after {timeout} s: {what or getattr(cond, '__name__', cond)}")
        await pilot.pause(0.05)
    return True


async def settle(pilot: Any, messages: int = EXAMPLE_MESSAGES) -> None:
    """Wait until the first dump is in, ``messages`` kernel messages reached the monitor and the queue is
    drained; then stop every cursor blinking, so that a snapshot is the same on every run."""
    app = pilot.app
    await wait_for(pilot, app.loaded.is_set, what="the first dump")
    monitor = app.get_screen_main().query_one("MonitorPane")
    await wait_for(pilot, lambda: monitor.seen >= messages and app.events.empty() and dumps_summarised(app),
                   what=f"{messages} messages and the dump summaries in the monitor")
    await shown(pilot)


async def shown(pilot: Any) -> None:
    """Wait until the screen shown is whole (its footer lists its keys, the kernel's messages are drained),
    then stop every cursor blinking: the state a snapshot is taken in (as ``make screenshots`` takes it)."""
    app = pilot.app
    await wait_for(pilot, app.events.empty, what="the kernel's messages drained")
    await wait_for(pilot, lambda: logs_at_end(app), what="the monitor scrolled to its newest line")
    await footer_steady(pilot)
    still(app)


async def fill(pilot: Any, **values: str) -> None:
    """Fill fields of the screen shown as a user does: focus, enter the value, Tab away (a select is chosen);
    ``#f-<name>`` is the widget of field ``name``."""
    screen = pilot.app.screen
    for name, value in values.items():
        widget = screen.query_one(f"#f-{name}")
        if isinstance(widget, Select):
            widget.value = value
            await pilot.pause()
            continue
        assert isinstance(widget, Input), widget
        if widget.display and widget.parent is not None and _shown(widget):
            widget.focus()
            await pilot.pause()
            widget.value = value
            await pilot.press("tab")
        else:
            widget.value = value
            await pilot.pause()
    still(pilot.app)


def _shown(widget: Any) -> bool:
    node = widget
    while node is not None:
        if getattr(node, "display", True) is False:
            return False
        node = node.parent
    return True


def record_notifications(app: App[Any]) -> list[str]:
    """Every message the app shows with ``notify`` from now on (title and text), in order."""
    seen: list[str] = []
    original = app.notify

    def notify(message: str, *args: Any, **kwargs: Any) -> None:
        title = kwargs.get("title") or ""
        seen.append(f"{title}: {message}" if title else str(message))
        original(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


def error_at(screen: Any, field: str) -> str:
    """The error shown under a field of a form or dialog ("" when none is shown)."""
    from textual.widgets import Label

    return str(screen.query_one(f"#err-{field}", Label).render())
