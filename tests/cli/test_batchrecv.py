"""recvmmsg through ctypes: whole datagrams, in order, many per call, nothing lost between calls."""

from __future__ import annotations

import errno
import socket
import struct
from pathlib import Path

import pytest

from setkey_tui.kernel.batchrecv import batch_receiver

pytestmark = pytest.mark.skipif(batch_receiver(0) is None, reason="no recvmmsg in this C library")


def test_datagrams_come_whole_and_in_order_up_to_the_slots() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        sent = [bytes([i % 256]) * (8 + i * 8) for i in range(100)]  # within the socket buffer
        for data in sent:
            a.send(data)
        rx = batch_receiver(b.fileno(), slots=64, size=8192)
        assert rx is not None
        first = rx.receive(wait=False)
        second = rx.receive(wait=True)  # something is there: the wait ends at once
        assert first == sent[:64]
        assert second == sent[64:]
        assert rx.receive(wait=False) == []
        rx.close()


def test_the_sockets_own_timeout_ends_a_wait_with_nothing() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", 0, 20_000))
        rx = batch_receiver(b.fileno(), slots=4, size=256)
        assert rx is not None
        assert rx.receive(wait=True) == []
        a.send(b"late")
        assert rx.receive(wait=True) == [b"late"]
        rx.close()


def test_a_failure_is_an_oserror_with_its_errno() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx = batch_receiver(b.fileno(), slots=4, size=256)
    assert rx is not None
    a.close()
    b.close()
    with pytest.raises(OSError) as got:
        rx.receive(wait=False)
    assert got.value.errno == errno.EBADF
    rx.close()


def test_a_served_kernels_loss_is_said_after_the_messages_before_it_and_before_those_after(tmp_path: Path) -> None:
    from setkey_tui.kernel.base import MessagesLost
    from setkey_tui.kernel.sim.client import SimClient
    from setkey_tui.kernel.sim.protocol import control

    path = str(tmp_path / "k.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(path)
    server.listen(1)
    client = SimClient(path)
    conn, _ = server.accept()
    with server, conn:
        message = [struct.pack("<BBBBHHII", 2, 3, 0, 3, 2, 0, i, 1) for i in range(5)]
        for packet in (message[0], message[1], control({"lost": "3 messages lost"}), message[2], message[3]):
            conn.send(packet)
        assert client.recv_many(1.0) == message[:2]
        with pytest.raises(MessagesLost, match="3 messages lost"):
            client.recv_many(0)
        assert client.recv_many(0) == message[2:4]
        assert client.recv_many(0) == []
        conn.send(message[4])
        assert client.recv_many(None) == [message[4]]
    client.close()  # the server's end is closed: the goodbye ends at once


def test_pfkey_recv_many_takes_a_burst_and_says_a_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    from setkey_tui.kernel import batchrecv, pfkey_socket
    from setkey_tui.kernel.base import MessagesLost
    from setkey_tui.pfkey.platform import LINUX

    class Overflowing:
        """The real receiver, until ``overflow`` is set: then ENOBUFS (a socket pair cannot make it)."""

        def __init__(self, real: batchrecv.BatchReceiver) -> None:
            self.real = real
            self.overflow = False

        def receive(self, wait: bool) -> list[bytes]:
            if self.overflow:
                raise OSError(errno.ENOBUFS, "No buffer space available")
            return self.real.receive(wait)

        def close(self) -> None:
            self.real.close()

    made: list[Overflowing] = []
    real_receiver = batchrecv.batch_receiver

    def receiver(*args: int, **kw: int) -> Overflowing:
        real = real_receiver(*args, **kw)
        assert real is not None, "recvmmsg is missing"
        made.append(Overflowing(real))
        return made[-1]

    monkeypatch.setattr(batchrecv, "batch_receiver", receiver)
    mine, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    monkeypatch.setattr(pfkey_socket.socket, "socket", lambda *args, **kw: mine)
    s = pfkey_socket.PFKeySocket(platform=LINUX, rcvbuf=1 << 16)
    with kernel:
        sent = [struct.pack("<BBBBHHII", 2, 3, 0, 3, 2, 0, i, 1) for i in range(70)]
        for data in sent:
            kernel.send(data)
        assert s.recv_many(None) == sent[:64]  # one call: at most the receiver's slots
        assert s.recv_many(0) == sent[64:]
        assert s.recv_many(0.01) == []

        made[0].overflow = True
        with pytest.raises(MessagesLost, match="dropped messages"):
            s.recv_many(None)
        made[0].overflow = False
        kernel.send(sent[0])
        assert s.recv_many(None) == [sent[0]]  # the socket goes on after a loss
    assert len(made) == 1
    s.close()
