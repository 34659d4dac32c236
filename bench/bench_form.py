"""Moving through the add-SA form: the CPU one Tab costs, as shipped and with the footer rebuilt at every focus
change (Textual's own Footer, the way the app did before), both measured in the same run.

1. The app as a user runs it: ``python -m setkey_tui --kernel sim`` in tmux (120x40), the form opened with
   ``a``, then ``TABS`` Tabs sent by ``tmux send-keys`` (one every ``TAB_GAP`` s). The CPU is the app process's
   own (utime + stime from /proc), less what it spends idle over the same time (its timers), per Tab.
2. The app headless (Textual's pilot, 120x40) on the in-process simulated kernel holding the example scenario;
   ``time.process_time`` of the whole process per Tab.

Both print medians over ``ROUNDS`` rounds.

    python bench/run.py form
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
TAB_GAP = 0.15  # seconds between two Tabs sent to tmux: a quick typist


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


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (from /proc), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _screen(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def _wait_screen(session: str, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in _screen(session):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{text!r} not on the screen:\n{_screen(session)}")
        time.sleep(0.05)


def tmux_round(reference: bool) -> float:
    """CPU seconds per Tab of the app in tmux, its idle CPU over the same time taken off."""
    session = f"benchform{os.getpid()}"
    command = [sys.executable, str(Path(__file__).resolve()), "--app", *(["--reference"] if reference else [])]
    env = {**os.environ, "TZ": "UTC"}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(SIZE[0]), "-y", str(SIZE[1]),
                    " ".join(["exec", *command])], env=env, check=True)
    try:
        pid = int(subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
                                 capture_output=True, text=True).stdout.split()[0])
        _wait_screen(session, "Add SA")
        subprocess.run(["tmux", "send-keys", "-t", session, "a"], check=True)
        _wait_screen(session, "Encryption key")
        time.sleep(1.0)  # the form painted, the welcome notice gone quiet
        span = TABS * TAB_GAP + 1.0
        idle0 = _cpu_seconds(pid)
        time.sleep(span)
        idle = _cpu_seconds(pid) - idle0  # timers (drain, clock) over the same time
        busy0 = _cpu_seconds(pid)
        for _ in range(TABS):
            subprocess.run(["tmux", "send-keys", "-t", session, "Tab"], check=True)
            time.sleep(TAB_GAP)
        time.sleep(1.0)
        busy = _cpu_seconds(pid) - busy0
        return max(0.0, busy - idle) / TABS
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def measure_tmux(label: str, reference: bool) -> float:
    """Run the tmux rounds and print one line; the median CPU per Tab in ms."""
    runs = [tmux_round(reference) * 1000 for _ in range(ROUNDS)]
    cpu = statistics.median(runs)
    print(f"  {label}: CPU {cpu:.1f} ms per Tab (rounds {', '.join(f'{r:.0f}' for r in runs)})")
    return cpu


def run_app(reference: bool) -> int:
    """The app as ``setkey-tui --kernel sim`` starts it; the reference with the footer of before."""
    from setkey_tui.cli import main as cli_main

    if reference:
        with footer_rebuilt_at_every_focus_change():
            return cli_main(["--kernel", "sim"])
    return cli_main(["--kernel", "sim"])


def main() -> int:
    """Print the figures of both ways and their ratio, in tmux and headless."""
    if shutil.which("tmux") is None:
        print("  tmux: not installed, skipped")
    else:
        print(f"The app in tmux {SIZE[0]}x{SIZE[1]} (`setkey-tui --kernel sim`: the CLI's main): Tab x{TABS} in the "
              f"add-SA form, one every {TAB_GAP:g} s, {ROUNDS} rounds, medians")
        shipped = measure_tmux("as shipped (footer kept while the keys are the same)", False)
        before = measure_tmux("reference (footer rebuilt at every focus change)", True)
        print(f"  CPU per Tab: {shipped / before:.2f} x the reference")
    print(f"Headless: Tab x{TABS} in the add-SA form over the example scenario, {SIZE[0]}x{SIZE[1]}, {ROUNDS} rounds, "
          "medians")
    shipped = measure("as shipped (footer kept while the keys are the same)")
    with footer_rebuilt_at_every_focus_change():
        before = measure("reference (footer rebuilt at every focus change)")
    print(f"  CPU per Tab: {shipped / before:.2f} x the reference")
    return 0


if __name__ == "__main__":
    if "--app" in sys.argv:
        sys.exit(run_app("--reference" in sys.argv))
    sys.exit(main())
