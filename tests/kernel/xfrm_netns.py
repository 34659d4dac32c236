"""Run a function in a fresh user + network namespace (``unshare -Urn``), in a forked child.

The child has CAP_NET_ADMIN over its own network namespace only, so XFRM state and policies made there never
touch the machine's own. ``run_in_netns`` returns what the function returned (it must be picklable) or
raises :class:`ChildFailed` with the child's traceback. Where user namespaces are disabled the calling test
is skipped loudly, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import select
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CHILD_TIMEOUT = 120.0


class ChildFailed(AssertionError):
    """The function raised in the namespace; the message is its traceback."""


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(text)


def enter_netns() -> None:
    """unshare(CLONE_NEWUSER | CLONE_NEWNET) and map the caller to root inside; loopback up."""
    uid, gid = os.getuid(), os.getgid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWUSER|CLONE_NEWNET): {os.strerror(err)}")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")
    os.system("ip link set lo up")  # noqa: S605 - fixed command, inside the new namespace


def skip_or_fail(reason: str) -> None:
    """Skip loudly (no user namespaces here), or fail under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"user namespaces are needed in CI: {reason}")
    pytest.skip(f"NO USER NAMESPACES HERE, XFRM host tests skipped: {reason}")


def run_in_netns(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a forked child inside a new user + network namespace; its result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            try:
                enter_netns()
            except OSError as exc:
                payload = ("nons", str(exc))
            else:
                try:
                    payload = ("ok", fn(*args))
                except BaseException:  # noqa: BLE001 - everything goes back to the parent
                    payload = ("err", traceback.format_exc())
            data = pickle.dumps(payload)
        except BaseException:  # noqa: BLE001
            data = pickle.dumps(("err", traceback.format_exc()))
        with os.fdopen(w, "wb") as fh:
            fh.write(data)
        os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + CHILD_TIMEOUT
    with os.fdopen(r, "rb") as fh:
        while True:
            ready, _, _ = select.select([fh], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise ChildFailed(f"the namespace child did not finish in {CHILD_TIMEOUT} s")
            chunk = os.read(fh.fileno(), 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    os.waitpid(pid, 0)
    if not chunks:
        raise ChildFailed("the namespace child died without an answer")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "nons":
        skip_or_fail(value)
    if kind == "err":
        raise ChildFailed(value)
    return value
