"""The served simulated kernel: several clients (threads and another process) share one kernel."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sim_build import header, lookup_msg, policy_msg, sa_msg

from setkey_tui.kernel.base import MessagesLost, TransportError
from setkey_tui.kernel.sim.client import SimClient
from setkey_tui.kernel.sim.kernel import SimKernel
from setkey_tui.kernel.sim.server import SimServer, StateScriptError, preload
from setkey_tui.kernel.sim.transport import SimHost, SimTransport
from setkey_tui.packet import Packet, PacketError, PacketVerdict, Verdict
from setkey_tui.pfkey.constants import ExtType, MsgType, SAType
from setkey_tui.pfkey.extensions import LifetimeExt as Lifetime
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.service import KeyService
from tests.cli.conftest import answers

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def now() -> list[float]:
    return [1_700_000_000.0]


@pytest.fixture
def served(tmp_path: Path, now: list[float]) -> Iterator[tuple[str, SimServer]]:
    path = str(tmp_path / "k.sock")
    server = SimServer(path, SimHost(SimKernel(clock=lambda: now[0])))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert server.ready.wait(5)
    yield path, server
    server.stop()
    thread.join(5)
    assert not os.path.exists(path)


def recv_all(c: SimClient, n: int, timeout: float = 30.0) -> list[Message]:
    """Up to ``n`` messages, read until they are in or ``timeout`` passes (the caller asserts what came)."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        data = c.recv(0.1)
        if data is not None:
            out.append(decode(data, LINUX))
    return out


def test_a_promiscuous_client_sees_another_process_change_the_kernel(served) -> None:  # type: ignore[no-untyped-def]
    path, _server = served
    mon = SimClient(path)
    try:
        mon.set_promisc(True)
        assert [m.type for m in recv_all(mon, 2)] == [MsgType.X_PROMISC] * 2
        code = textwrap.dedent(f"""
            import sys
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from sim_build import sa_msg
            from setkey_tui.kernel.sim.client import SimClient
            from setkey_tui.service import KeyService
            svc = KeyService(SimClient({path!r}), pid=777)
            svc.request(sa_msg(spi=0x4444))
            print(len(svc.dump()))
        """)
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=PROJECT,
            env={**os.environ, "PYTHONPATH": str(PROJECT)},
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "1"
        seen = recv_all(mon, 5)
        assert [(m.type, m.pid) for m in seen[:3]] == [(MsgType.ADD, 777)] * 3
        assert [m.type for m in seen[3:]] == [MsgType.DUMP, MsgType.DUMP]  # request copy + the reply's copy
    finally:
        mon.close()


def test_two_thread_clients_and_traffic_control(served) -> None:  # type: ignore[no-untyped-def]
    path, _server = served
    km = SimClient(path)
    admin = KeyService(SimClient(path), pid=10)
    try:
        km.send(header(MsgType.REGISTER, SAType.ESP).encode(LINUX))
        assert recv_all(km, 1)[0].get(ExtType.SUPPORTED_ENCRYPT) is not None
        admin.request(policy_msg())
        assert [m.type for m in recv_all(km, 1)] == [MsgType.X_SPDADD]  # the broadcast
        verdict = km.simulate_traffic(Packet.parse("10.1.0.1", "10.2.0.1", 6))
        assert verdict == PacketVerdict(Verdict.ACQUIRE, verdict.policy_id, (), 1)
        acq = recv_all(km, 1)[0]
        assert acq.type == MsgType.ACQUIRE
        with pytest.raises(PacketError) as exc:  # the server checks what it is sent: Packet.parse's limits
            km.simulate_traffic(replace(Packet.parse("10.1.0.1", "10.2.0.1"), dport=65536))
        assert str(exc.value) == "destination port: 65536 is out of range (0-65535)"
    finally:
        km.close()
        admin.close()


def test_clock_drives_expiry_and_bad_bytes_are_refused(served, now: list[float]) -> None:  # type: ignore[no-untyped-def]
    path, _server = served
    km = SimClient(path)
    try:
        km.send(header(MsgType.REGISTER, SAType.ESP).encode(LINUX))
        assert [m.type for m in recv_all(km, 1)] == [MsgType.REGISTER]
        hard = Lifetime(ExtType.LIFETIME_HARD, addtime=5)
        soft = Lifetime(ExtType.LIFETIME_SOFT, addtime=1)
        km.send(sa_msg(spi=0x55, hard=hard, soft=soft).encode(LINUX))
        assert recv_all(km, 1)[0].type == MsgType.ADD
        now[0] += 1
        soft_msg = recv_all(km, 1)[0]
        assert soft_msg.type == MsgType.EXPIRE and ExtType.LIFETIME_SOFT in soft_msg
        now[0] += 4
        hard_msg = recv_all(km, 1)[0]
        assert hard_msg.type == MsgType.EXPIRE and ExtType.LIFETIME_HARD in hard_msg
        km.send(b"\x02\x05\x00\x00")
        with pytest.raises(TransportError, match="refused"):
            recv_all(km, 1)
        km.send(lookup_msg(MsgType.GET, 0x55).encode(LINUX))
        assert recv_all(km, 1)[0].errno == 3
    finally:
        km.close()


def test_a_client_that_does_not_read_loses_messages(tmp_path: Path) -> None:
    path = str(tmp_path / "small.sock")
    server = SimServer(path, SimHost(SimKernel(), rcvbuf=1500))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert server.ready.wait(5)
    slow, svc = SimClient(path), KeyService(SimClient(path), pid=2)
    try:
        slow.set_promisc(True)  # returns once the server applied it
        # fill the client's kernel-side queue faster than the server can hand it over
        server.host.kernel.clock = time.time
        for spi in range(0x2000, 0x2200):
            svc.request(sa_msg(spi=spi))
        with pytest.raises(MessagesLost):
            recv_all(slow, 4000)
    finally:
        slow.close()
        svc.close()
        server.stop()
        thread.join(5)


def test_preload_and_the_command_line(tmp_path: Path) -> None:
    host = SimHost(SimKernel())
    preload(
        host, "add 10.0.0.1 10.0.0.2 esp 0x100 -E null;\nspdadd 10.1.0.0/24 10.2.0.0/24 any -P out none;\n"
    )
    assert len(host.kernel.sas) == 1 and len(host.kernel.policies) == 1
    with pytest.raises(StateScriptError):
        preload(host, "add 10.0.0.1 esp;\n")
    state = tmp_path / "state.conf"
    state.write_text("add 10.0.0.1 10.0.0.2 esp 0x200 -E null;\nadd 10.0.0.1 10.0.0.2 esp 0x201 -E null;\n")
    path = str(tmp_path / "cli.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "setkey_tui.kernel.sim.server", path, "--sim-state", str(state)],
        cwd=PROJECT,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    try:
        deadline = time.monotonic() + 30
        while not answers(path):  # the file exists from bind(), a connection is refused until listen()
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        svc = KeyService(SimClient(path), pid=1)
        assert sorted(m.get(ExtType.SA).spi for m in svc.dump()) == [0x200, 0x201]
        svc.close()
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == 0 and not os.path.exists(path)  # SIGTERM stops it cleanly
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "setkey_tui.kernel.sim.server",
            path,
            "--sim-state",
            str(tmp_path / "missing"),
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        timeout=60,
    )
    assert bad.returncode == 1 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr


def test_a_dump_bigger_than_the_socket_buffer_arrives_whole(served) -> None:  # type: ignore[no-untyped-def]
    path, server = served
    loader = SimTransport(server.host)
    for spi in range(0x3000, 0x3000 + 3000):  # ~0.7 MB of replies: the connection fills up on the way
        loader.send(sa_msg(spi=spi, dst="10.9.0.1").encode(LINUX))
    loader.close()
    svc = KeyService(SimClient(path), pid=4)
    try:
        got = svc.dump()
        assert len(got) == 3000 and got[-1].seq == 0
        assert [m.seq for m in got[:3]] == [1, 2, 3]
    finally:
        svc.close()


def test_a_second_server_does_not_steal_a_live_socket(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, _server = served
    second = SimServer(path)
    with pytest.raises(TransportError, match="already served"):
        second.bind()
    second.close()
    c = SimClient(path)  # the first server still answers
    try:
        c.send(header(MsgType.X_SPDDUMP).encode(LINUX))
        assert recv_all(c, 1)[0].type == MsgType.X_SPDDUMP
    finally:
        c.close()
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.bind(str(stale))  # a socket file nobody listens on: replaced
    server = SimServer(str(stale))
    server.bind()
    server.close()
    assert not stale.exists()


@pytest.mark.parametrize("request_json", [
    b'{"op":"traffic","src":"10.0.0.1","dst":"10.0.0.2","proto":1e400}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"op":"traffic","src":"10.0.0.1","dst":"10.0.0.2","size":1e300}',
    b'{"op":"traffic","src":"10.0.0.1","dst":"10.0.0.2","sport":-1}',
])
def test_a_bad_control_request_gets_an_error_and_the_server_lives_on(served, request_json: bytes) -> None:  # type: ignore[no-untyped-def]
    path, _server = served
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as raw:
        raw.connect(path)
        raw.settimeout(5)
        raw.send(bytes([0xFF]) + request_json)
        reply = raw.recv(4096)
    assert reply[:1] == b"\xff" and b'"error"' in reply
    c = SimClient(path)
    try:
        assert c.simulate_traffic(Packet.parse("10.0.0.1", "10.0.0.2")).verdict == "no-policy"
    finally:
        c.close()


# ------------------------------------------------------------------------------- concurrent clients
CLIENTS, ADDS = 8, 2000


def client_adds(c: int) -> list[bytes]:
    """Client ``c``'s ADD requests: seq 1..ADDS, pid 1000 + c, SAs no other client has."""
    return [
        sa_msg(spi=0x10000 + c * 10000 + i, dst=f"10.{100 + c}.{i // 250}.{i % 250 + 1}", seq=i + 1)
        ._replace(pid=1000 + c)
        .encode(LINUX)
        for i in range(ADDS)
    ]


def count_sas(path: str) -> tuple[int, int]:
    """(replies, distinct SAs) of a dump through a fresh connection."""
    svc = KeyService(SimClient(path), pid=99)
    try:
        got = svc.dump(timeout=30)
    finally:
        svc.close()
    return len(got), len({(m.get(ExtType.ADDRESS_DST).sockaddr.addr, m.get(ExtType.SA).spi) for m in got})


def test_concurrent_clients_each_get_their_own_replies_and_nothing_is_lost(served) -> None:  # type: ignore[no-untyped-def]
    path, _server = served
    results: dict[int, tuple[list[int], int, list[int]]] = {}

    def run(c: int) -> None:
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        raw.connect(path)
        raw.settimeout(30)
        for data in client_adds(c):
            raw.send(data)
        mine: list[int] = []
        others = 0
        errors: list[int] = []
        while len(mine) < ADDS:
            m = decode(raw.recv(1 << 16), LINUX)
            if m.pid == 1000 + c:
                assert m.type == MsgType.ADD
                mine.append(m.seq)
                errors.append(m.errno)
            else:
                others += 1
        raw.close()
        results[c] = (mine, others, errors)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == list(range(CLIENTS))
    for mine, _others, errors in results.values():
        assert mine == list(range(1, ADDS + 1)) and set(errors) == {0}  # each reply, in order, to its sender
    assert count_sas(path) == (CLIENTS * ADDS, CLIENTS * ADDS)


def test_requests_of_clients_that_close_without_reading_are_all_applied(served) -> None:  # type: ignore[no-untyped-def]
    """A real kernel applies each sendmsg before it returns: closing right after sending loses nothing."""
    path, server = served

    def run(c: int) -> None:
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        raw.connect(path)
        for data in client_adds(c):
            raw.send(data)
        raw.close()  # abruptly: replies unread, requests perhaps not read by the server yet

    threads = [threading.Thread(target=run, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    deadline = time.monotonic() + 60
    while server.connections:  # every connection ends once the server read its end of file
        assert time.monotonic() < deadline, f"{server.connections} connection(s) never ended"
        time.sleep(0.05)
    assert count_sas(path) == (CLIENTS * ADDS, CLIENTS * ADDS)


def test_after_a_client_closes_its_requests_are_applied(served) -> None:  # type: ignore[no-untyped-def]
    """SimClient.close returns once the server has run everything sent: the next look sees it all."""
    path, _server = served
    clients = [SimClient(path) for _ in range(CLIENTS)]
    for c, client in enumerate(clients):
        for data in client_adds(c)[:500]:
            client.send(data)
    for client in clients:
        client.close()
    assert count_sas(path) == (CLIENTS * 500, CLIENTS * 500)


# ------------------------------------------------------------------------------------------- dumps
def test_a_served_dump_streams_and_a_second_one_is_busy(served) -> None:  # type: ignore[no-untyped-def]
    path, server = served
    loader = SimTransport(server.host)
    for spi in range(0x3000, 0x3000 + 20_000):
        loader.send(sa_msg(spi=spi, dst="10.9.0.1").encode(LINUX))
    loader.close()
    c = SimClient(path)
    try:
        c.send(header(MsgType.DUMP).encode(LINUX))
        first = decode(c.recv(10), LINUX)
        assert (first.type, first.seq) == (MsgType.DUMP, 1)
        assert server.host.kernel.dumps.running  # not built whole: it goes on as the client reads
        c.send(header(MsgType.DUMP).encode(LINUX))
        got, busy = [first], []
        while True:
            m = decode(c.recv(10), LINUX)
            if m.errno:
                busy.append(m.errno)
                continue
            got.append(m)
            if m.seq == 0:
                break
        assert busy == [16] and len(got) == 20_000  # EBUSY; every SA once
        assert [m.seq for m in got] == [*range(1, 20_000), 0]
    finally:
        c.close()


def test_served_promiscuous_sockets_get_copies_of_dump_replies(served) -> None:  # type: ignore[no-untyped-def]
    path, server = served
    loader = SimTransport(server.host)
    for spi in range(0x3000, 0x3000 + 50):
        loader.send(sa_msg(spi=spi, dst="10.9.0.1").encode(LINUX))
    loader.close()
    mon, me = SimClient(path), SimClient(path)
    try:
        mon.set_promisc(True)
        me.set_promisc(True)
        assert [m.type for m in recv_all(mon, 5)] == [MsgType.X_PROMISC] * 5  # its echoes (2), me's (3)
        assert [m.type for m in recv_all(me, 3)] == [MsgType.X_PROMISC] * 3  # mon's echo, its own two
        me.send(header(MsgType.DUMP).encode(LINUX))
        copies = recv_all(mon, 51)
        mine = recv_all(me, 101)
        assert [m.type for m in copies] == [MsgType.DUMP] * 51 and [m.seq for m in copies[1:]] == [*range(1, 50), 0]
        assert [m.encode(LINUX) for m in mine[1:]] == [m.encode(LINUX) for m in copies[1:] for _ in range(2)]
    finally:
        mon.close()
        me.close()


# ------------------------------------------------------------------------------------------ serve-sim
def test_a_binary_state_file_is_one_clear_line(tmp_path: Path) -> None:
    state = tmp_path / "state.bin"
    state.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe" + bytes(range(256)) * 40)
    bad = subprocess.run(
        [sys.executable, "-m", "setkey_tui.kernel.sim.server", str(tmp_path / "b.sock"), "--sim-state", str(state)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        timeout=60,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    (line,) = bad.stderr.splitlines()
    assert line.startswith(f"setkey-tui: serve-sim: the state script from {state} failed: line 1: ")
    assert "\\x7f" in line and len(line) < 400


def test_a_state_file_with_latin1_in_a_comment_loads_as_with_setkey_f(tmp_path: Path) -> None:
    state = tmp_path / "latin.conf"
    state.write_bytes(b"# caf\xe9\nadd 10.0.0.1 10.0.0.2 esp 0x300 -E null;\n")
    from setkey_tui.kernel.sim.server import read_state

    host = SimHost(SimKernel())
    preload(host, read_state(state))
    assert len(host.kernel.sas) == 1
    with pytest.raises(StateScriptError, match="cannot read .*missing"):
        read_state(tmp_path / "missing")


def test_serve_sim_says_when_it_starts_and_stops(tmp_path: Path) -> None:
    state = tmp_path / "state.conf"
    state.write_text("add 10.0.0.1 10.0.0.2 esp 0x200 -E null;\nspdadd 10.1.0.0/24 10.2.0.0/24 any -P out none;\n")
    path = str(tmp_path / "say.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "setkey_tui.kernel.sim.server", path, "--sim-state", str(state)],
        cwd=PROJECT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert proc.stderr is not None
    try:
        started = proc.stderr.readline()
        assert started == (
            f"setkey-tui: serving a simulated kernel at {path} (loaded 1 SA, 1 policy from {state}); "
            "Ctrl-C stops it\n"
        )
        svc = KeyService(SimClient(path), pid=1)
        svc.request(sa_msg(spi=0x201))
        svc.close()
    finally:
        proc.terminate()
        proc.wait(10)
    stopped = proc.stderr.read()
    proc.stderr.close()
    assert stopped == f"setkey-tui: stopped serving {path} (2 SAs, 1 policy at the end)\n"


def test_queued_replies_are_read_without_a_poll_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16: one recv per message, no poll: what is queued is read at once, and when nothing is there the
    socket's own timeout (SO_RCVTIMEO) does the waiting.
    A stand-in server queues every reply before the first read, so that no read may need a poll whatever the
    machine's load."""
    import select

    polls: list[float] = []
    real_poll = select.poll

    class Counting:
        """A poll object that counts its waits."""

        def __init__(self) -> None:
            self.real = real_poll()

        def register(self, fd: object, events: int) -> None:
            self.real.register(fd, events)

        def poll(self, ms: float) -> list[tuple[int, int]]:
            polls.append(ms)
            return self.real.poll(ms)

    path = str(tmp_path / "queued.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as listener:
        listener.bind(path)
        listener.listen(1)
        monkeypatch.setattr(select, "poll", Counting)  # the client's poll object, made as it connects
        client = SimClient(path)
        monkeypatch.undo()
        peer, _ = listener.accept()
    try:
        peer.settimeout(10)  # a full socket fails the test here rather than hang it
        replies = [sa_msg(MsgType.DUMP, spi=0x1000 + i, seq=49 - i).encode(LINUX) for i in range(50)]
        for data in replies:
            peer.send(data)
        assert [client.recv(5) for _ in replies] == replies and polls == []
        began = time.monotonic()
        assert client.recv(0.05) is None and polls == []  # nothing queued: the socket's own timeout waits
        assert time.monotonic() - began >= 0.04
    finally:
        peer.close()
        client.close()
    assert polls, "the client's poll object is not the counting one"  # its goodbye waits by poll
