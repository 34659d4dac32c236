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

from setkey_tui.kernel.sim import SimHost, SimKernel, SimTransport
from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.grammar import parse
from setkey_tui.scenarios import example_text
from setkey_tui.service import KeyService
from setkey_tui.tui.app import SetkeyApp

T0 = 1_700_000_000.0
PID = 4242
SIZE = (150, 44)


class Clock:
    """A settable clock shared by the simulated kernel and the app."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def apply_script(host: SimHost, text: str) -> None:
    """Apply setkey statements to the simulated kernel directly (pid fixed), as another process would."""
    svc = KeyService(SimTransport(host), pid=PID)
    try:
        for st in parse(text):
            for msg in compile_statement(st):
                svc.request(msg)
    finally:
        svc.close()


async def _until(pilot: Any, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cond():
        await pilot.pause(0.05)


async def _settle(pilot: Any) -> None:
    app = pilot.app
    await _until(pilot, app.loaded.is_set)
    await _until(pilot, app.events.empty)
    await pilot.pause(0.3)
    await _until(pilot, app.events.empty)
    await pilot.pause(0.1)


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
    pilot.app.screen.fill(src="10.0.0.1", dst="10.0.0.3", spi="0x3000", mode="transport", reqid="7",
                          enc_key="0x0011")
    await pilot.pause(0.1)


async def _add_policy(pilot: Any, env: Any) -> None:
    await pilot.press("p")
    pilot.app.screen.fill(src="10.1.0.0/16", dst="10.3.0.0/16", req_mode="tunnel", tsrc="192.0.2.1",
                          tdst="192.0.2.3", level="unique", reqid="300")
    await pilot.pause(0.1)


async def _filter(pilot: Any, env: Any) -> None:
    await pilot.press("slash", *"dst:10.0.0.0/8")
    await pilot.pause(0.1)


async def _flush(pilot: Any, env: Any) -> None:
    await pilot.press("f")


async def _help(pilot: Any, env: Any) -> None:
    await pilot.press("f1")


async def _expiring(pilot: Any, env: Any) -> None:
    clock, host = env
    clock.t += 35
    host.tick()
    await _until(pilot, lambda: pilot.app.mirror.sa_counts().get("dying", 0) >= 1)
    await _settle(pilot)
    await pilot.press("s", "s", "s", "s", "s", "s", "s", "s", "s", "s")  # sort by "Soft in"


async def _monitor(pilot: Any, env: Any) -> None:
    await pilot.press("m", "c", "h")
    apply_script(env[1], "delete 10.0.0.1 10.0.0.2 esp 0x1001 ;\n")
    await _until(pilot, lambda: pilot.app.mirror.sad.total == 7)
    await _settle(pilot)


async def _traffic(pilot: Any, env: Any) -> None:
    await pilot.press("t")
    screen = pilot.app.screen
    screen.fill(src="10.1.0.5", dst="10.2.0.9", size="1400", count="3")
    await pilot.press("ctrl+s")
    await _until(pilot, lambda: screen.last_run is not None)
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
}


async def shoot(name: str, step: Step, out: Path) -> Path:
    """Start the app on a fresh simulated kernel with the example scenario, run ``step``, save the SVG."""
    clock = Clock()
    host = SimHost(SimKernel(clock=clock, seed=1))
    apply_script(host, example_text())
    app = SetkeyApp(lambda: SimTransport(host, description="simulated kernel (no PF_KEY here)"), now=clock,
                    pid=PID)
    size = (150, 62) if name.startswith("add") else SIZE
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        await step(pilot, (clock, host))
        await pilot.pause(0.2)
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
