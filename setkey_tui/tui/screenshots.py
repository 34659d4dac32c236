"""Regenerate ``screenshots/*.svg``: every screen of the TUI on the example scenario (``make screenshots``).

    python -m setkey_tui.tui.screenshots [OUTPUT_DIR]

Runs headless on an in-process simulated kernel with a fixed clock (2023-11-14 22:13:20 UTC) and pid, so
the pictures only change when the TUI does.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Log, Select

from setkey_tui.kernel.sim import SimTransport
from setkey_tui.scenarios import example_text
from setkey_tui.scenarios.sim import PID, T0, Clock, apply_script, sim_host
from setkey_tui.tui.app import SetkeyApp

__all__ = ["PID", "SCREENS", "T0", "Clock", "apply_script", "main", "shoot"]

SIZE = (150, 44)
EXAMPLE_MESSAGES = 2  # kernel messages the monitor shows once the first dumps are in (the listener's X_PROMISC)


class NotSettled(RuntimeError):
    """The app did not reach the state a screenshot needs."""


async def _until(pilot: Any, cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            raise NotSettled(f"after {timeout} s still waiting for {what}")
        await pilot.pause(0.05)


def still(app: Any) -> None:
    """No blinking cursor: the picture does not depend on the blink phase."""
    for screen in app.screen_stack:
        for inp in screen.query(Input):
            inp.cursor_blink = False


def visible_screens(app: Any) -> list[Any]:
    """The screen shown and, under a modal one, the screens it lets through."""
    out = []
    for screen in reversed(app.screen_stack):
        out.append(screen)
        if not isinstance(screen, ModalScreen):
            break
    return out


def logs_at_end(app: Any) -> bool:
    """Scroll every log shown to its last line (the picture shows the newest messages); True once there."""
    done = True
    for screen in visible_screens(app):
        for log in screen.query(Log):
            if log.scroll_y < log.max_scroll_y:
                log.scroll_end(animate=False, immediate=True)
                done = False
    return done


async def footer_steady(pilot: Any) -> None:
    """The footer recomposes after a focus or screen change: wait until it lists its keys and stays put."""
    app = pilot.app

    def keys() -> list[int]:
        return [id(k) for screen in visible_screens(app) for f in screen.query(Footer) for k in f.children]

    for _ in range(200):
        before = keys()
        await pilot.pause()
        if before and before == keys():
            return
    raise NotSettled("the footer did not settle")


DUMP_SUMMARIES = ("own DUMP: ", "own SPDDUMP: ")


def dumps_summarised(app: Any) -> bool:
    """Whether the monitor shows the summary line of the app's first SAD and SPD dumps."""
    lines = [line for log in app.get_screen_main().query(Log) for line in log.lines]
    return all(any(line.startswith(s) for line in lines) for s in DUMP_SUMMARIES)


async def _settle(pilot: Any, *, first: bool = False) -> None:
    """The first dump in and drained; ``first``: also its summary lines in the monitor (a later step may have
    cleared the pane)."""
    app = pilot.app
    await _until(pilot, app.loaded.is_set, "the first dump")
    monitor = app.get_screen_main().query_one("MonitorPane")
    await _until(pilot, lambda: monitor.seen >= EXAMPLE_MESSAGES and app.events.empty()
                 and (dumps_summarised(app) or not first), "the monitor")
    still(app)


async def _fill(pilot: Any, **values: str) -> None:
    """Fill form fields as a user would: focus, type, Tab away (selects are chosen)."""
    screen = pilot.app.screen
    for name, value in values.items():
        widget = screen.query_one(f"#f-{name}")
        if isinstance(widget, Input):
            widget.focus()
            await pilot.pause()
            widget.value = value
            await pilot.press("tab")
        elif isinstance(widget, Select):
            widget.value = value
            await pilot.pause()
    still(pilot.app)


Step = Callable[[Any, Any], Awaitable[None]]


async def _nothing(pilot: Any, env: Any) -> None:
    return None


async def _spd(pilot: Any, env: Any) -> None:
    await pilot.press("2")


async def _detail(pilot: Any, env: Any) -> None:
    await pilot.press("enter")


async def _detail_policy(pilot: Any, env: Any) -> None:
    await pilot.press("2")
    pilot.app.query_one("#spd-pane").apply_filter("dir:out dst:10.2.0.0/16")
    await pilot.press("enter")


async def _add_sa(pilot: Any, env: Any) -> None:
    await pilot.press("a")
    await _fill(pilot, src="10.0.0.1", dst="10.0.0.3", spi="0x3000", mode="transport", reqid="7",
                enc_key="0x0011")


async def _add_policy(pilot: Any, env: Any) -> None:
    await pilot.press("p")
    await _fill(pilot, src="10.1.0.0/16", dst="10.3.0.0/16", req_mode="tunnel", tsrc="192.0.2.1",
                tdst="192.0.2.3", level="unique", reqid="300")


async def _filter(pilot: Any, env: Any) -> None:
    await pilot.press("slash", *"dst:10.0.0.0/8")
    still(pilot.app)


async def _flush(pilot: Any, env: Any) -> None:
    await pilot.press("f")


async def _help(pilot: Any, env: Any) -> None:
    await pilot.press("f1")


async def _expiring(pilot: Any, env: Any) -> None:
    clock, host = env
    clock.t += 35
    host.tick()
    await _until(pilot, lambda: pilot.app.mirror.sa_counts().get("dying", 0) >= 1, "a dying SA")
    await _settle(pilot)
    await pilot.press("s", "o")  # sort by "Soft in" (its key in the "Sort by" list)


async def _monitor(pilot: Any, env: Any) -> None:
    await pilot.press("m", "c", "h")
    apply_script(env[1], "delete 10.0.0.1 10.0.0.2 esp 0x1001 ;\n", clock=env[0])
    await _until(pilot, lambda: pilot.app.mirror.sad.total == 7, "the SA deleted")
    await _settle(pilot)


async def _traffic(pilot: Any, env: Any) -> None:
    await pilot.press("t")
    screen = pilot.app.screen
    await _fill(pilot, src="10.1.0.5", dst="10.2.0.9", size="1400", count="3")
    await pilot.press("ctrl+s")
    await _until(pilot, lambda: screen.last_run is not None, "the packets sent")
    await _settle(pilot)


SCREENS: dict[str, Step] = {
    "sad": _nothing,
    "spd": _spd,
    "detail-sa": _detail,
    "detail-policy": _detail_policy,
    "add-sa": _add_sa,
    "add-policy": _add_policy,
    "filter": _filter,
    "flush": _flush,
    "help": _help,
    "expiring": _expiring,
    "monitor": _monitor,
    "traffic": _traffic,
    "sad-80x24": _nothing,
    "add-sa-80x24": _add_sa,
}


async def shoot(name: str, step: Step, out: Path) -> Path:
    """Start the app on a fresh simulated kernel with the example scenario, run ``step``, save the SVG."""
    clock = Clock()
    host = sim_host(clock)
    apply_script(host, example_text(), clock=clock)
    app = SetkeyApp(lambda: SimTransport(host, description="simulated kernel (no PF_KEY here)"), now=clock,
                    pid=PID)
    size = (80, 24) if name.endswith("80x24") else (150, 62) if name.startswith("add") else SIZE
    async with app.run_test(size=size) as pilot:
        await _settle(pilot, first=True)
        await step(pilot, (clock, host))
        await _until(pilot, app.events.empty, "the kernel's messages drained")
        await _until(pilot, lambda: logs_at_end(app), "the monitor at its newest line")
        await footer_steady(pilot)
        still(app)
        path = out / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
    return path


def main(argv: list[str] | None = None) -> int:
    """Write one SVG per screen; the exit status."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    os.environ["TZ"] = "UTC"
    time.tzset()
    for name, step in SCREENS.items():
        path = asyncio.run(shoot(name, step, out))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
