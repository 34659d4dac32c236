"""Dumps, the monitor and script input as streams (issue 10 items 4, 5, 7, 11; issue 16)."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from setkey_tui.kernel.sim.client import TIMEOUT_ENV
from setkey_tui.kernel.sim.protocol import control
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import decode
from setkey_tui.pfkey.platform import LINUX
from tests.cli.conftest import ENV, Served, add_lines, command, wait_for
from tests.render.helpers import esp_sa


class FakeKernel:
    """A served 'kernel' that the test scripts: ``on_request(conn, request)`` answers each request."""

    def __init__(self, on_request: Callable[[socket.socket, bytes], None]) -> None:
        self.folder = tempfile.mkdtemp(prefix="skf")
        self.path = os.path.join(self.folder, "k.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(self.path)
        self.listener.listen(4)
        self.on_request = on_request
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            while True:
                try:
                    data = conn.recv(1 << 20)
                except OSError:
                    return
                if not data:
                    return
                self.on_request(conn, data)

    def close(self) -> None:
        self.listener.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def fake_kernel() -> Iterator[Callable[[Callable[[socket.socket, bytes], None]], FakeKernel]]:
    made: list[FakeKernel] = []

    def make(on_request: Callable[[socket.socket, bytes], None]) -> FakeKernel:
        made.append(FakeKernel(on_request))
        return made[-1]

    yield make
    for k in made:
        k.close()


def run(*args: str, timeout: float = 60, merged: bool = False,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI to its end; ``merged``: stderr into stdout (to see the order of both); ``env``: added to ENV."""
    err = subprocess.STDOUT if merged else subprocess.PIPE
    return subprocess.run(command(*args), stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout,
                          env={**ENV, **(env or {})})


def test_a_dump_without_an_answer_is_an_error_not_an_empty_success(fake_kernel) -> None:  # type: ignore[no-untyped-def]
    k = fake_kernel(lambda conn, data: None)  # never answers
    r = run("--kernel", f"sim@{k.path}", "-D", env={TIMEOUT_ENV: "1.5"})
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ("setkey-tui: no answer from the kernel within 1.5 s "
                        "(recv: Resource temporarily unavailable)\n")


def test_a_bad_wait_for_the_served_kernel_is_one_line(fake_kernel) -> None:  # type: ignore[no-untyped-def]
    k = fake_kernel(lambda conn, data: None)
    for bad in ("abc", "0", "-1", "inf"):
        r = run("--kernel", f"sim@{k.path}", "-D", env={TIMEOUT_ENV: bad})
        assert (r.returncode, r.stdout) == (1, "")
        assert r.stderr.startswith(f"setkey-tui: cannot open kernel 'sim@{k.path}': {TIMEOUT_ENV}={bad!r} ")
        assert r.stderr.count("\n") == 1, r.stderr


def test_the_wait_is_per_message_not_per_dump(fake_kernel) -> None:  # type: ignore[no-untyped-def]
    wait = 3.0

    def slow_dump(conn: socket.socket, data: bytes) -> None:
        req = decode(data, LINUX)
        for seq in (2, 1, 0):  # three entries, the dump longer in all than one wait
            time.sleep(wait * 0.4)
            conn.send(esp_sa(seq=seq, spi=0x100 + seq)._replace(pid=req.pid).encode(LINUX))

    k = fake_kernel(slow_dump)
    r = run("--kernel", f"sim@{k.path}", "-D", env={TIMEOUT_ENV: f"{wait:g}"})
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.count("\tesp mode=") == 3


def test_a_monitor_that_fell_behind_says_so_in_place_and_goes_on(fake_kernel) -> None:  # type: ignore[no-untyped-def]
    def promisc_then_loss(conn: socket.socket, data: bytes) -> None:
        if data[1] != MsgType.X_PROMISC:
            return
        conn.send(data)  # the kernel's echo of SADB_X_PROMISC
        conn.send(esp_sa(spi=0x111).encode(LINUX))
        conn.send(control({"lost": "7 message(s) lost: the receive queue was full"}))
        conn.send(esp_sa(spi=0x222).encode(LINUX))
        conn.send(esp_sa(spi=0x333).encode(LINUX))
        conn.shutdown(socket.SHUT_RDWR)

    k = fake_kernel(promisc_then_loss)
    r = run("--kernel", f"sim@{k.path}", "-x", merged=True)
    text = r.stdout
    order = [text.index(s) for s in ("spi=273 ", "7 message(s) lost", "spi=546 ",
                                     "spi=819 ", "went away")]
    assert order == sorted(order), text
    assert r.returncode == 1


def _wait_readable(fd: int, timeout: float) -> None:
    assert select.select([fd], [], [], timeout)[0], "nothing came out in time"


@pytest.mark.parametrize("flag", ["-f", "-c"])
def test_statements_are_applied_as_they_arrive(served: Served, flag: str) -> None:
    args = ["-f", "-"] if flag == "-f" else ["-c"]
    p = subprocess.Popen(served.cli(*args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    assert p.stdin is not None
    first, second = add_lines(0, 2)
    p.stdin.write(first.encode() + b"\n")
    p.stdin.flush()
    wait_for(lambda: served.count_sas() == 1, 20, "the first statement to be applied before the input ends")
    p.stdin.write(second.encode() + b"\n")
    p.stdin.close()
    assert p.wait(30) == 0
    assert served.count_sas() == 2


def test_an_endless_input_is_parsed_as_it_comes_in_bounded_memory() -> None:
    yes = subprocess.Popen(["yes", "add 10.0.0.1 10.0.0.2 esp 0x1000 -E null;"], stdout=subprocess.PIPE)
    p = subprocess.Popen(command("-d", "-f", "-"), stdin=yes.stdout, stdout=subprocess.PIPE, env=ENV)
    assert yes.stdout is not None and p.stdout is not None
    yes.stdout.close()
    try:
        fd = p.stdout.fileno()
        got = b""
        while got.count(b"\n") < 2000:
            _wait_readable(fd, 30)
            got += os.read(fd, 65536)
        lines = got.split(b"\n")[:2000]
        assert len(set(lines)) == 1 and lines[0].startswith(b"0203")
        with open(f"/proc/{p.pid}/status") as fh:
            rss_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
        assert rss_kb < 200_000
    finally:
        p.kill()
        yes.kill()
        p.wait()
        yes.wait()


def test_dev_zero_is_a_syntax_error_at_once() -> None:
    r = run("-d", "-f", "/dev/zero", timeout=30)
    assert r.returncode == 1
    assert r.stdout == "line 1: Syntax error at [\x00]\n"


def test_an_error_on_a_huge_line_echoes_a_cut_token(tmp_path: Path) -> None:
    key = "0x" + "ab" * (5 << 20)  # a 10 MB key: a wrong length
    script = tmp_path / "huge.conf"
    script.write_text(f"add 10.0.0.1 10.0.0.2 esp 0x1000 -E aes-cbc {key};\n")
    r = run("-d", "-f", str(script))
    assert r.returncode == 1
    assert len(r.stdout) + len(r.stderr) < 4096
    assert r.stdout.startswith("line 1: Invalid key length at [0xabab")
    assert r.stdout.endswith(f"...({len(key) - 256} more characters)]\nparse failed, line 1.\n")


def test_socket_paths_that_cannot_work_are_refused_in_one_line(tmp_path: Path) -> None:
    long_path = "/tmp/" + "x" * 120
    r = run("--kernel", f"sim@{long_path}", "-D")
    assert r.returncode == 1 and "None" not in r.stderr
    assert r.stderr == (f"setkey-tui: cannot open kernel 'sim@{long_path}': the socket path is 125 bytes long; "
                        "a Unix socket path holds at most 107: use a shorter one\n")
    r = run("serve-sim", "", timeout=10)
    assert (r.returncode, r.stderr) == (1, "setkey-tui: serve-sim: the socket path is empty\n")
    r = run("serve-sim", long_path, timeout=10)
    assert r.returncode == 1 and "at most 107" in r.stderr


def test_our_own_warnings_say_setkey_tui_and_setkeys_keep_setkey(tmp_path: Path) -> None:
    script = tmp_path / "s.conf"
    script.write_text("add 10.0.0.1 10.0.0.2 esp 255 -E null;\n")
    r = run("--kernel", "sim", "-f", str(script))
    assert r.returncode == 0
    assert r.stderr.startswith("setkey-tui: warning: line 1: SPI 255 is in the reserved range")
