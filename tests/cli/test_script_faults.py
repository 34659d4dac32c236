"""Script mode under concurrency and faults (issue 10 items 1-3): nothing lost, nothing half-done in silence."""

from __future__ import annotations

import errno
import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path

from setkey_tui.pfkey.constants import MsgType
from setkey_tui.render.errors import strerror_setkey
from tests.cli.conftest import ENV, Served, add_lines, command

CLIENTS = 8
PER_CLIENT = 1000
DUPLICATE_LINE = 500


def test_eight_concurrent_clients_apply_every_statement_and_errors_name_their_line(served: Served,
                                                                                   tmp_path: Path) -> None:
    scripts = []
    for c in range(CLIENTS):
        lines = add_lines(c, PER_CLIENT)
        if c == 3:  # line 500 repeats line 1: the kernel refuses it, and says so for line 500
            lines[DUPLICATE_LINE - 1] = lines[0]
        f = tmp_path / f"client{c}.conf"
        f.write_text("\n".join(lines) + "\n")
        scripts.append(f)
    procs = [subprocess.Popen(served.cli("-f", str(f)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=ENV) for f in scripts]
    results = [(p.wait(120), *p.communicate()) for p in procs]
    for c, (rc, out, err) in enumerate(results):
        if c == 3:
            assert (rc, err) == (0, "")
            assert out == f"The result of line {DUPLICATE_LINE}: {strerror_setkey(errno.EEXIST, MsgType.ADD)}.\n"
        else:
            assert (rc, out, err) == (0, "", ""), c
    assert served.count_sas() == CLIENTS * PER_CLIENT - 1


def test_a_kernel_that_dies_mid_script_is_said_once_with_how_far_it_got(served: Served, tmp_path: Path) -> None:
    script = tmp_path / "big.conf"
    script.write_text("\n".join(add_lines(0, 20000, get_every=1)) + "\n")
    p = subprocess.Popen(served.cli("-f", str(script)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    assert p.stdout is not None
    assert p.stdout.readline().startswith(b"10.100.")  # the script is under way
    served.proc.kill()
    served.proc.wait(10)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1
    lines = err.decode().splitlines()
    assert len(lines) == 2, lines
    assert "simulated kernel" in lines[0]
    m = re.fullmatch(r"setkey-tui: stopped at line (\d+): (\d+) statements applied", lines[1])
    assert m is not None, lines[1]
    assert 0 < int(m.group(2)) < 40000 and 0 < int(m.group(1)) < 40000


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {needle!r}; got {got[-300:]!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the other side of the terminal is gone
                break
            if not chunk:
                break
            got += chunk
    return got


def test_ctrl_c_in_a_terminal_stops_with_130_and_says_where(served: Served, tmp_path: Path) -> None:
    script = tmp_path / "big.conf"
    script.write_text("\n".join(add_lines(0, 50000, get_every=1)) + "\n")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on the terminal, SIGINT at its default even when the test runner ignores it
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(command()[0], [*served.cli("-f", str(script))], ENV)
    try:
        _read_until(fd, b"esp mode=", 60)
        os.write(fd, b"\x03")  # Ctrl-C on the terminal: SIGINT to its foreground process group
        rest = _read_until(fd, b" applied)", 60)
    except BaseException:
        os.kill(pid, signal.SIGKILL)  # a failed read: the CLI may be blocked writing to this terminal
        raise
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 130
    m = re.search(rb"setkey-tui: interrupted after line (\d+) \((\d+) statements? applied\)", rest)
    assert m is not None, rest[-300:]
    assert 0 < int(m.group(1)) < 100000


def test_a_closed_output_stops_with_141_and_says_where(served: Served, tmp_path: Path) -> None:
    script = tmp_path / "gets.conf"
    script.write_text("\n".join(add_lines(0, 3000, get_every=1)) + "\n")
    p = subprocess.Popen(served.cli("-f", str(script)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    assert p.stdout is not None and p.stderr is not None
    assert p.stdout.readline()  # `| head -1`
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(60) == 141
    assert re.fullmatch(r"setkey-tui: output closed \(broken pipe\) after line \d+ \(\d+ statements? applied\)\n",
                        err), err
    assert served.count_sas() < 3000  # it stopped where the output closed


def test_sigint_outside_a_terminal_is_130_too(served: Served, tmp_path: Path) -> None:
    script = tmp_path / "big.conf"
    script.write_text("\n".join(add_lines(0, 50000, get_every=1)) + "\n")
    p = subprocess.Popen(served.cli("-f", str(script)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
                         restore_signals=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert p.stdout is not None
    assert p.stdout.readline()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert b"setkey-tui: interrupted after line " in err
