"""The app headless on the real PF_KEY socket with 20k SAs + 20k policies (marker `kernel`, run inside
user-mode-linux by uml/run_suite.py): exact counts, one summary line per own dump in the monitor, and a change
made by another process during the load on screen after it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pfkey_conversation as pc
import pytest

from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.grammar import parse
from setkey_tui.service import KeyService

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not pc.pfkey_available(), reason="no PF_KEY socket in this kernel (run via uml/run_suite.py)"),
]

N = 20_000
PROJECT = Path(__file__).resolve().parents[2]


def statements(n: int) -> str:
    lines = []
    for i in range(n):
        src, dst = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", f"172.16.{i >> 8 & 255}.{i & 255}"
        lines.append(f"add {src} {dst} esp {0x1000 + i:#x} -m transport -E aes-cbc 0x{i:032x};")
        lines.append(f"spdadd {src} {dst} any -P out ipsec esp/transport//require;")
    return "\n".join(lines) + "\n"


def fill(n: int) -> None:
    from setkey_tui.kernel.pfkey_socket import PFKeySocket

    svc = KeyService(PFKeySocket())
    try:
        for st in parse(statements(n)):
            for msg in compile_statement(st):
                svc.request(msg)
    finally:
        svc.close()


async def _open_app() -> tuple[bool, list[str], int, int]:
    from textual.widgets import Log

    from setkey_tui.kernel.pfkey_socket import PFKeySocket
    from setkey_tui.tui.app import SetkeyApp
    from setkey_tui.tui.widgets.monitor import MonitorPane

    app = SetkeyApp(PFKeySocket, now=time.time)
    during = False
    async with app.run_test(size=(160, 45)) as pilot:
        deadline = time.monotonic() + 300
        while app.mirror.sad.total == 0 and time.monotonic() < deadline:
            await pilot.pause(0.005)
        during = not app.loaded.is_set()
        other = subprocess.Popen(  # another process adds an SA while the app loads
            [sys.executable, "-m", "setkey_tui", "--kernel", "pfkey", "-c"], cwd=PROJECT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        other.communicate(b"add 192.0.2.1 192.0.2.2 esp 0x99999 -m transport -E aes-cbc 0x" + b"ab" * 16 + b";\n",
                          timeout=120)
        assert other.returncode == 0
        while not (app.loaded.is_set() and app.mirror.sad.total == N + 1) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        log = app.query_one(MonitorPane).query_one(Log)
        while time.monotonic() < deadline and not any("own SPDDUMP" in line for line in log.lines):
            await pilot.pause(0.05)
        lines = [str(line) for line in log.lines]
        return during, lines, app.mirror.sad.total, app.mirror.spd.total


def test_app_opens_20k_sas_and_20k_policies_exactly() -> None:
    pc.flush_real_kernel()
    try:
        fill(N)
        during, lines, sas, sps = asyncio.run(_open_app())
        assert (sas, sps) == (N + 1, N)  # every dumped row, and the other process's SA
        assert during, "the other process's change was not made during the load"
        assert any(f"own DUMP: {N:,} replies not shown" in line for line in lines), lines[-20:]
        assert any(f"own SPDDUMP: {N:,} replies not shown" in line for line in lines), lines[-20:]
    finally:
        pc.flush_real_kernel()
