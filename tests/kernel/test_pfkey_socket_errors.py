"""PFKeySocket's error paths (this host has no PF_KEY; the real path runs under user-mode-linux)."""

from __future__ import annotations

import errno
import os
import socket

import pytest

from setkey_tui.kernel import pfkey_socket
from setkey_tui.kernel.base import MessagesLost, TransportError
from setkey_tui.kernel.pfkey_socket import PFKeySocket, PFKeyUnavailable, open_error
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import decode, header_only
from setkey_tui.pfkey.platform import FREEBSD, LINUX


def raising(err: int):  # type: ignore[no-untyped-def]
    def make(*args: object, **kw: object) -> socket.socket:
        raise OSError(err, "boom")

    return make


@pytest.mark.parametrize(
    ("err", "words"),
    [
        (errno.EAFNOSUPPORT, ("no PF_KEY in this kernel", "modprobe af_key", "--kernel sim")),
        (errno.EPERM, ("permission denied", "root", "CAP_NET_ADMIN")),
        (errno.EACCES, ("permission denied", "CAP_NET_ADMIN")),
        (errno.EMFILE, ("cannot open a PF_KEY socket",)),
    ],
)
def test_open_errors_are_one_line_with_advice(
    monkeypatch: pytest.MonkeyPatch, err: int, words: tuple
) -> None:
    monkeypatch.setattr(pfkey_socket.socket, "socket", raising(err))
    with pytest.raises(PFKeyUnavailable) as exc:
        PFKeySocket(platform=LINUX)
    text = str(exc.value)
    assert exc.value.errno == err and "\n" not in text
    for w in words:
        assert w in text


def test_no_modprobe_advice_on_bsd() -> None:
    assert "modprobe" not in open_error(errno.EAFNOSUPPORT, FREEBSD)


@pytest.fixture
def paired(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A PFKeySocket whose 'kernel' end is the other half of a SEQPACKET socket pair."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    monkeypatch.setattr(pfkey_socket.socket, "socket", lambda *args, **kw: a)
    s = PFKeySocket(platform=LINUX, rcvbuf=1 << 20)
    yield s, b
    s.close()
    b.close()


def test_whole_messages_and_promisc(paired) -> None:  # type: ignore[no-untyped-def]
    s, kernel = paired
    assert s.rcvbuf >= 1 << 20 and s.description == "real PF_KEY"
    s.set_promisc(True)
    msg = decode(kernel.recv(4096), LINUX)
    assert (msg.type, msg.satype) == (MsgType.X_PROMISC, 1)
    assert s.recv(0.01) is None
    one = header_only(MsgType.FLUSH, 3).encode(LINUX)
    two = header_only(MsgType.DUMP, 3).encode(LINUX)
    kernel.send(one)
    kernel.send(two)
    assert s.recv(1.0) == one and s.recv(None) == two
    big = header_only(MsgType.DUMP, 3).encode(LINUX)[:4] + (12800).to_bytes(2, "little") + bytes(12800 * 8 - 6)
    kernel.send(big)
    kernel.send(one)
    first, second = s.recv(1.0), s.recv(1.0)
    assert (first, second) == (big, one)  # whole, and each its own bytes (the receive buffer is reused)


class _Failing:
    """A real socket, except that reads and writes fail with ``err`` while it is set (a socket pair cannot
    make ENOBUFS)."""

    def __init__(self, real: socket.socket) -> None:
        self.real = real
        self.err = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def recv_into(self, buf: bytearray, *args: int) -> int:
        if self.err:
            raise OSError(self.err, os.strerror(self.err))
        return self.real.recv_into(buf, *args)

    def send(self, data: bytes) -> int:
        if self.err:
            raise OSError(self.err, os.strerror(self.err))
        return self.real.send(data)


def test_enobufs_is_messages_lost_and_other_errors_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    a, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    failing = _Failing(a)
    monkeypatch.setattr(pfkey_socket.socket, "socket", lambda *args, **kw: failing)
    s = PFKeySocket(platform=LINUX, rcvbuf=1 << 16)
    one = header_only(MsgType.FLUSH, 3).encode(LINUX)
    kernel.send(one)
    assert s.recv(1.0) == one
    failing.err = errno.ENOBUFS
    with pytest.raises(MessagesLost, match="resynchronise"):
        s.recv(None)
    failing.err = errno.EBADF
    with pytest.raises(TransportError, match="reading the PF_KEY socket failed"):
        s.recv(None)
    with pytest.raises(TransportError, match="refused"):
        s.send(b"x" * 16)
    failing.err = 0
    kernel.send(one)
    assert s.recv(1.0) == one  # the socket goes on after a loss
    kernel.close()
    s.close()
    with pytest.raises(TransportError, match="closed"):
        s.recv(0)


def test_recv_with_a_timeout_works_past_fd_setsize(monkeypatch: pytest.MonkeyPatch) -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1500:
        pytest.skip("the descriptor limit is too low for a descriptor past 1024")
    if soft != resource.RLIM_INFINITY and soft <= 1500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1501, hard))
    a, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    high = socket.socket(fileno=os.dup2(a.fileno(), 1500))
    a.close()
    monkeypatch.setattr(pfkey_socket.socket, "socket", lambda *args, **kw: high)
    s = PFKeySocket(platform=LINUX, rcvbuf=1 << 16)
    try:
        assert s.fileno() == 1500 and s.recv(0.01) is None
        one = header_only(MsgType.FLUSH, 3).encode(LINUX)
        kernel.send(one)
        assert s.recv(1.0) == one
    finally:
        s.close()
        kernel.close()
        if soft != resource.RLIM_INFINITY and soft <= 1500:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class _Recording:
    """A socket stand-in that records the calls PFKeySocket makes (as a syscall trace would)."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = replies
        self.calls: list[str] = []

    def setsockopt(self, level: int, opt: int, value: object) -> None:
        self.calls.append("setsockopt(SO_RCVTIMEO)" if opt == socket.SO_RCVTIMEO else f"setsockopt({opt})")

    def getsockopt(self, *args: object) -> int:
        return 1 << 20

    def recv_into(self, buf: bytearray, nbytes: int = 0, flags: int = 0) -> int:
        self.calls.append("recv(MSG_DONTWAIT)" if flags & socket.MSG_DONTWAIT else "recv")
        if not self.replies:
            raise BlockingIOError(errno.EAGAIN, "timed out")
        data = self.replies.pop(0)
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        pass


def test_one_recv_per_message_and_the_timeout_is_the_sockets_own(monkeypatch: pytest.MonkeyPatch) -> None:
    one = header_only(MsgType.FLUSH, 3).encode(LINUX)
    fake = _Recording([one, one, one])
    monkeypatch.setattr(pfkey_socket.socket, "socket", lambda *args, **kw: fake)
    s = PFKeySocket(platform=LINUX)
    fake.calls.clear()
    assert [s.recv(1.0) for _ in range(3)] == [one, one, one]
    assert s.recv(1.0) is None  # the timeout (SO_RCVTIMEO) passed: EAGAIN
    assert s.recv(0) is None  # nothing there: one non-blocking read
    assert fake.calls == ["setsockopt(SO_RCVTIMEO)", "recv", "recv", "recv", "recv", "recv(MSG_DONTWAIT)"]
