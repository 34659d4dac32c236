"""Moving through the add-SA form: the CPU and the wall time one Tab costs, as shipped and with the footer
rebuilt at every focus change (Textual's own Footer, the way the app did before), in the same run.

The app runs headless (Textual's pilot, 120x40) on the in-process simulated kernel holding the example scenario,
so that the main screen under the form has rows. Each round opens the form (``a``) and presses Tab ``TABS``
times; the figures are medians over the rounds. The CPU is the process's (``time.process_time``): the app's
own threads included.

    python bench/run.py form
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from textual.widgets import Footer

from setkey_tui.kernel.sim import SimTransport
from setkey_tui.scenarios import example_text
from setkey_tui.scenarios.sim import PID, Clock, apply_script, sim_host
from setkey_tui.tui.app import SetkeyApp
from setkey_tui.tui.screens.forms import AddSAScreen
from setkey_tui.tui.screens.main import EssentialsFooter

TABS = 40
ROUNDS = 5
SIZE = (120, 40)


@contextmanager
def footer_rebuilt_at_every_focus_change() -> Iterator[None]:
    """The reference: the footer's keys made again after every binding change, as Textual's Footer does."""
    shipped = EssentialsFooter.recompose

    async def rebuild(self: EssentialsFooter) -> None:
        self._recompose_due = False
        await Footer.recompose(self)

    EssentialsFooter.recompose = rebuild  # type: ignore[method-assign]
    try:
        yield
    finally:
        EssentialsFooter.recompose = shipped  # type: ignore[method-assign]


async def one_round() -> tuple[float, float, int]:
    """(CPU seconds per Tab, wall seconds per Tab, footer keys made during the Tabs) for one opening of the form."""
    clock = Clock()
    host = sim_host(clock)
    apply_script(host, example_text(), clock=clock)
    app = SetkeyApp(lambda: SimTransport(host, description="simulated kernel (bench)"), now=clock, pid=PID)
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 30
        while not app.loaded.is_set():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the kernel did not load: {app.status}")
            await pilot.pause(0.02)
        await pilot.press("a")
        while not isinstance(app.screen, AddSAScreen):
            await pilot.pause(0.02)
        footer = app.screen.query_one(EssentialsFooter)
        await pilot.pause(0.3)  # the form composed and painted
        made: set[int] = set()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(TABS):
            await pilot.press("tab")
            made.update(id(k) for k in footer.children)
        await pilot.pause()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        return cpu / TABS, wall / TABS, len(made)


def measure(label: str) -> float:
    """Run the rounds and print one line; the median CPU per Tab."""
    runs = [asyncio.run(one_round()) for _ in range(ROUNDS)]
    cpu = statistics.median(r[0] for r in runs) * 1000
    wall = statistics.median(r[1] for r in runs) * 1000
    keys = statistics.median(r[2] for r in runs)
    print(f"  {label}: CPU {cpu:.1f} ms per Tab (rounds {', '.join(f'{r[0] * 1000:.0f}' for r in runs)}), "
          f"wall {wall:.1f} ms, footer key widgets seen {keys:.0f}")
    return cpu


def main() -> int:
    """Print the figures of both ways and their ratio."""
    print(f"Tab x{TABS} in the add-SA form over the example scenario, {SIZE[0]}x{SIZE[1]}, {ROUNDS} rounds, medians")
    shipped = measure("as shipped (footer kept while the keys are the same)")
    with footer_rebuilt_at_every_focus_change():
        before = measure("reference (footer rebuilt at every focus change)")
    print(f"  CPU per Tab: {shipped / before:.2f} x the reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
