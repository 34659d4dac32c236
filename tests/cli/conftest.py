"""Fixtures of the command-line tests: a served simulated kernel in its own process, and the CLI as a process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "PYTHONPATH": PROJECT, "TZ": "UTC", "SETKEY_TUI_NOW": "1700000000"}
ENV.pop("SETKEY_TUI_KERNEL", None)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail the test saying ``what`` when ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def answers(path: str) -> bool:
    """Whether something accepts connections on the Unix SEQPACKET socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def command(*args: str) -> list[str]:
    """The command line running ``setkey-tui ARGS`` with this checkout."""
    return [sys.executable, "-m", "setkey_tui", *args]


@dataclass
class Served:
    """A served simulated kernel: its socket path and its process."""

    path: str
    proc: subprocess.Popen[bytes]

    def cli(self, *args: str) -> list[str]:
        """``setkey-tui --kernel sim@PATH ARGS``."""
        return command("--kernel", f"sim@{self.path}", *args)

    def run(self, *args: str, timeout: float = 60, **kw: object) -> subprocess.CompletedProcess[str]:
        """Run the CLI on this kernel to the end."""
        return subprocess.run(self.cli(*args), capture_output=True, text=True, timeout=timeout, env=ENV,
                              **kw)  # type: ignore[call-overload]

    def count_sas(self) -> int:
        """How many SAs the kernel holds (by ``-D``)."""
        r = self.run("-D")
        assert r.returncode == 0, r.stderr
        return r.stdout.count("\tesp mode=")


@pytest.fixture
def served() -> Iterator[Served]:
    """A fresh ``setkey-tui serve-sim`` on a short socket path."""
    folder = tempfile.mkdtemp(prefix="skc")
    path = os.path.join(folder, "k.sock")
    proc = subprocess.Popen(command("serve-sim", path), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: answers(path) or proc.poll() is not None, 20, "the served kernel to listen")
        assert proc.poll() is None, "serve-sim exited at start"
        yield Served(path, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def add_lines(client: int, n: int, *, get_every: int = 0) -> list[str]:
    """``n`` distinct ``add`` statements of one client (and a ``get`` of each every ``get_every`` lines)."""
    lines = []
    for i in range(n):
        spi = 0x10000 + client * 100000 + i
        ends = f"10.{100 + client}.{i // 250}.{i % 250 + 1} 10.200.0.1"
        lines.append(f"add {ends} esp {spi:#x} -E aes-cbc 0x00112233445566778899aabbccddeeff;")
        if get_every and i % get_every == 0:
            lines.append(f"get {ends} esp {spi:#x};")
    return lines
