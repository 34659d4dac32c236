"""The processes a test started, as the system lists them (/proc): a test checks how many connections a
transport opened, or breaks one, without reaching into the transport."""

from __future__ import annotations

import os
import signal
import time


def _table() -> dict[int, tuple[int, str, list[bytes]]]:
    """pid → (parent pid, state letter, argv) of every process that can be read."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, …
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except (OSError, IndexError):
            continue
        out[int(entry)] = (int(fields[1]), fields[0], argv)
    return out


def children(word: str) -> list[int]:
    """This process's running children (zombies aside) whose command line holds ``word``."""
    me = os.getpid()
    return sorted(pid for pid, (ppid, state, argv) in _table().items()
                  if ppid == me and state != "Z" and word.encode() in b" ".join(argv))


def wait_children(word: str, count: int, timeout: float = 60.0) -> list[int]:
    """Wait until exactly ``count`` such children run; fail saying what runs when they do not in time."""
    deadline = time.monotonic() + timeout
    while len(found := children(word)) != count:
        assert time.monotonic() < deadline, f"{len(found)} {word} process(es) after {timeout:g} s, not {count}"
        time.sleep(0.05)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants."""
    table = _table()
    todo = [pid]
    while todo:
        p = todo.pop()
        todo += [c for c, (ppid, _state, _argv) in table.items() if ppid == p]
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
