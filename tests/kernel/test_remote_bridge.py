"""The ssh transport and the bridge with their stdio on plain pipes (local_ssh.py stands in for ssh).

What does not need a login: sockets sharing one connection, the listener's promiscuous stream beside requests,
a lost connection and a new one, a full socket buffer, traffic on a remote simulated kernel, the bridge's own
command line, and that the bridge opens no network socket and writes no file.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import scenario_replay as sr
from child_processes import children, kill_tree, wait_children
from sim_build import sa_msg

from setkey_tui.kernel.base import MessagesLost, TrafficSimulator, TransportError
from setkey_tui.kernel.choose import open_transport
from setkey_tui.kernel.remote import transport as remote
from setkey_tui.kernel.remote.bridge import main as bridge_main
from setkey_tui.kernel.remote.framing import Hello, hello
from setkey_tui.listener import Listener, MessageEvent
from setkey_tui.packet import Packet, PacketError, PacketVerdict, TraceResult, Verdict
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import decode
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.service import KeyService

HERE = Path(__file__).resolve().parent
LOCAL_SSH = f"{sys.executable} {HERE / 'local_ssh.py'}"
SSH_STAND_IN = "setkey_tui.kernel.remote.bridge"  # in the command line of the stand-in for ssh
BRIDGE = f"{sys.executable} -m setkey_tui.kernel.remote.bridge"


@pytest.fixture(scope="module")
def sim_path() -> Iterator[str]:
    with sr.served_sim() as spec:
        yield spec.removeprefix("sim@")


@pytest.fixture
def piped(monkeypatch: pytest.MonkeyPatch, sim_path: str) -> str:
    """SETKEY_TUI_SSH runs the bridge locally on pipes; the spec of the served simulated kernel through it."""
    monkeypatch.setenv("SETKEY_TUI_SSH", LOCAL_SSH)
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", BRIDGE)
    monkeypatch.delenv("SETKEY_TUI_SSH_TIMEOUT", raising=False)
    svc = KeyService(open_transport(f"sim@{sim_path}"))
    try:
        svc.request(header_only_flush())
    finally:
        svc.close()
    return f"ssh:pipe-host/sim@{sim_path}"


def header_only_flush():  # type: ignore[no-untyped-def]
    from setkey_tui.pfkey.message import header_only

    return header_only(MsgType.FLUSH, 0)


def test_sockets_on_one_host_share_one_connection_which_ends_with_the_last(piped: str) -> None:
    a = open_transport(piped)
    b = open_transport(piped)
    (conn,) = wait_children(SSH_STAND_IN, 1)  # one ssh for both
    assert a.description == b.description == f"pipe-host · simulated kernel served at {piped.split('sim@')[1]}"
    assert a.platform is LINUX
    a.close()
    assert children(SSH_STAND_IN) == [conn]  # b still uses it
    b.close()
    wait_children(SSH_STAND_IN, 0)  # ended (and reaped) with the last socket
    c = open_transport(piped)
    try:
        assert wait_children(SSH_STAND_IN, 1) != [conn]
    finally:
        c.close()


def test_requests_and_a_promiscuous_listener_through_the_bridge(piped: str) -> None:
    import queue

    events: queue.SimpleQueue = queue.SimpleQueue()
    listener = Listener(lambda: open_transport(piped), events)
    listener.start()
    svc = KeyService(open_transport(piped))
    try:
        assert listener.ready.wait(20)
        svc.request(sa_msg(spi=0x5151))
        assert [decode_spi(m) for m in svc.dump()] == [0x5151]
        deadline = time.monotonic() + 10
        seen: list[int] = []
        while MsgType.ADD not in seen and time.monotonic() < deadline:
            try:
                ev = events.get(timeout=0.5)
            except queue.Empty:
                continue
            assert isinstance(ev, MessageEvent), ev
            assert ev.msg is not None
            seen.append(ev.msg.type)
        assert MsgType.ADD in seen
    finally:
        listener.stop()
        svc.close()


def decode_spi(msg) -> int:  # type: ignore[no-untyped-def]
    from setkey_tui.pfkey.constants import ExtType

    return msg.get(ExtType.SA).spi


def test_a_lost_connection_raises_and_a_new_open_connects_again(piped: str) -> None:
    t = open_transport(piped)
    try:
        (conn,) = children(SSH_STAND_IN)
        kill_tree(conn)
        with pytest.raises(TransportError, match="the connection to pipe-host was lost"):
            t.recv(10)
        with pytest.raises(TransportError, match="lost"):
            t.send(header_only_flush().encode(LINUX))
    finally:
        t.close()
    again = KeyService(open_transport(piped))
    try:
        assert again.dump() == []
    finally:
        again.close()


def test_a_full_socket_buffer_reports_lost_messages(piped: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "RCVBUF", 2000)
    watcher = open_transport(piped)
    svc = KeyService(open_transport(piped))
    try:
        watcher.set_promisc(True)
        for spi in range(0x100, 0x120):
            svc.request(sa_msg(spi=spi))
        with pytest.raises(MessagesLost, match="dropped"):
            for _ in range(100):
                watcher.recv(2)
        svc.discard_pending()
    finally:
        watcher.close()
        svc.close()


def test_traffic_through_a_remote_simulated_kernel(piped: str) -> None:
    svc = KeyService(open_transport(piped))
    try:
        assert svc.can_simulate_traffic
        (result,) = svc.trace(Packet.parse("10.9.0.1", "10.9.0.2"))
        assert result == TraceResult(PacketVerdict(Verdict.NO_POLICY))
        assert isinstance(svc.transport, TrafficSimulator)
        with pytest.raises(PacketError) as exc:  # the bridge checks what it is sent with Packet.parse
            svc.transport.simulate_traffic(replace(Packet.parse("10.9.0.1", "10.9.0.2"), proto=256))
        assert str(exc.value) == "protocol: 256 is out of range (0-255)"
    finally:
        svc.close()


def test_a_remote_kernel_without_traffic_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SETKEY_TUI_SSH", LOCAL_SSH)
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", BRIDGE)
    rec = tmp_path / "r.txt"
    rec.write_text("")
    t = open_transport(f"ssh:pipe-host/replay:{rec}")
    try:
        assert t.description.startswith("pipe-host · ")
        assert not KeyService(t).can_simulate_traffic
    finally:
        t.close()


def test_the_bridge_exits_when_stdin_closes_and_checks_the_client() -> None:
    out, err = io.BytesIO(), io.StringIO()
    assert bridge_main(["--kernel", "sim"], io.BytesIO(hello()), out, err) == 0
    assert out.getvalue() == hello() and err.getvalue() == ""
    out, err = io.BytesIO(), io.StringIO()
    assert bridge_main(["bridge", "--kernel", "sim"], io.BytesIO(hello(protocol=9, version="7.0")), out, err) == 2
    assert err.getvalue().count("\n") == 1
    assert "the client setkey-tui 7.0 speaks bridge protocol 9" in err.getvalue()
    err = io.StringIO()
    assert bridge_main(["--bogus"], io.BytesIO(), io.BytesIO(), err) == 1
    assert "option --bogus not recognized" in err.getvalue()


def test_the_bridge_relays_a_refusal_as_one_line() -> None:
    from setkey_tui.kernel.remote.framing import FrameDecoder, Kind, control

    out, err = io.BytesIO(), io.StringIO()
    stdin = io.BytesIO(hello() + control(1, Kind.OPEN, {}))
    assert bridge_main(["--kernel", "sim@/nonexistent/k.sock"], stdin, out, err) == 0
    items = FrameDecoder().feed(out.getvalue())
    assert isinstance(items[0], Hello)
    assert items[1].kind == Kind.REFUSED  # type: ignore[union-attr]
    assert "cannot reach the simulated kernel at /nonexistent/k.sock" in items[1].json()["error"]  # type: ignore[union-attr]


AUDIT = r"""
import os, socket, sys
sys.dont_write_bytecode = True
bad = []
def hook(event, args):
    if event == "socket.__new__" and args[1] not in (socket.AF_UNIX, -1):
        bad.append(f"network socket family {args[1]}")
    elif event == "open":
        path, mode, flags = args
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)):
            bad.append(f"opened {path!r} for writing")
sys.addaudithook(hook)
from setkey_tui.kernel.remote.bridge import main
rc = main(sys.argv[1:], sys.stdin.buffer, sys.stdout.buffer, sys.stderr)
report = "".join([f"rc={rc}\n"] + [f"audit: {b}\n" for b in bad])
sys.addaudithook(lambda event, args: None)
with open(os.environ["AUDIT_REPORT"], "w") as f:  # the audit's own report, written once the bridge is done
    f.write(report)
sys.exit(3 if bad else rc)
"""


def test_the_bridge_opens_no_network_socket_and_writes_no_file(piped: str, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    audit = tmp_path / "audited_bridge.py"
    audit.write_text(AUDIT)
    report = tmp_path / "audit-report.txt"
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", f"{sys.executable} {audit}")
    monkeypatch.setenv("AUDIT_REPORT", str(report))
    svc = KeyService(open_transport(piped))
    svc.request(sa_msg(spi=0x6161))
    svc.set_promisc(True)
    assert len(svc.dump()) == 1
    assert len(list(svc.trace(Packet.parse("10.0.0.1", "10.0.0.2")))) == 1
    svc.close()  # waits for the bridge to exit
    assert report.read_text() == "rc=0\n"  # the bridge ran to its end, opened no network socket, wrote no file


def test_the_bridge_module_runs_with_or_without_the_bridge_word(sim_path: str) -> None:
    for words in ([], ["bridge"]):
        proc = subprocess.run([sys.executable, "-m", "setkey_tui.kernel.remote.bridge", *words, "--kernel",
                               f"sim@{sim_path}"], input=hello(), capture_output=True, timeout=60)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, hello(), b"")


def test_bad_specs_and_settings_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec, words in (("ssh:", "needs a host"), ("ssh:/pfkey", "needs a host"), ("ssh:-oProxyCommand=x", "not a host")):
        with pytest.raises(TransportError, match=words):
            open_transport(spec)
    monkeypatch.setenv("SETKEY_TUI_SSH_TIMEOUT", "soon")
    with pytest.raises(TransportError, match="SETKEY_TUI_SSH_TIMEOUT='soon' is not a number"):
        open_transport("ssh:somewhere")
    monkeypatch.setenv("SETKEY_TUI_SSH_TIMEOUT", "5")
    monkeypatch.setenv("SETKEY_TUI_SSH", "ssh -o 'unterminated")
    with pytest.raises(TransportError, match="SETKEY_TUI_SSH="):
        open_transport("ssh:somewhere")


def test_the_remote_command_line_quotes_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETKEY_TUI_SSH", "ssh -F '/my dir/cfg'")
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", "/opt/venv/bin/setkey-tui")
    assert remote.ssh_command("gw1", "sim@/tmp/a b") == [
        "ssh", "-F", "/my dir/cfg", "-T", "gw1", "/opt/venv/bin/setkey-tui bridge --kernel 'sim@/tmp/a b'"]
    monkeypatch.delenv("SETKEY_TUI_SSH")
    monkeypatch.delenv("SETKEY_TUI_REMOTE_COMMAND")
    assert remote.ssh_command("admin@gw1", "auto") == ["ssh", "-T", "admin@gw1", "setkey-tui bridge --kernel auto"]
    assert remote.parse_spec("gw1") == ("gw1", "auto")
    assert remote.parse_spec("gw1/sim@/tmp/k.sock") == ("gw1", "sim@/tmp/k.sock")


def test_concurrent_opens_from_threads_share_the_connection(piped: str) -> None:
    got: list[object] = []

    def worker() -> None:
        got.append(open_transport(piped))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    try:
        assert len(got) == 4
        assert len(children(SSH_STAND_IN)) == 1  # one ssh for the four
        assert os.environ["SETKEY_TUI_SSH"] == LOCAL_SSH
    finally:
        for t in got:
            t.close()  # type: ignore[attr-defined]


def test_decoded_messages_cross_unchanged(piped: str) -> None:
    svc = KeyService(open_transport(piped))
    try:
        sent = sa_msg(spi=0x7171)
        reply = svc.request(sent)
        direct = decode(reply.encode(LINUX), LINUX)
        assert direct == reply and decode_spi(reply) == 0x7171
    finally:
        svc.close()


def _cli_dispatches_bridge() -> bool:
    import inspect

    import setkey_tui.cli

    return '"bridge"' in inspect.getsource(setkey_tui.cli)


@pytest.mark.skipif(not _cli_dispatches_bridge(),
                    reason="cli.py does not dispatch `setkey-tui bridge` yet (the lines are in helper remote's report)")
def test_the_console_script_runs_the_bridge(piped: str, monkeypatch: pytest.MonkeyPatch, sim_path: str) -> None:
    script = Path(sys.executable).with_name("setkey-tui")
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", str(script))
    assert remote.ssh_command("h", "auto")[-1] == f"{script} bridge --kernel auto"
    t = open_transport(piped)
    try:
        assert t.description == f"pipe-host · simulated kernel served at {sim_path}"
    finally:
        t.close()


def test_an_ssh_that_ended_before_the_hello_is_said_as_why_it_ended(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    """ssh that cannot connect exits at once: when it is gone before the hello is written (a loaded machine),
    the error is still its reason ("cannot reach"), not the broken pipe of the write."""
    refusing = tmp_path / "refusing_ssh.py"
    refusing.write_text("import sys\nsys.stderr.write('ssh: connect to host gw1 port 22: Connection refused\\n')\n"
                        "sys.exit(255)\n")
    monkeypatch.setenv("SETKEY_TUI_SSH", f"{sys.executable} {refusing}")
    real_write = os.write

    def write_once_ssh_ended(fd: int, data: bytes) -> int:  # the scheduling of a loaded machine, made certain
        wait_children("refusing_ssh.py", 0)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write_once_ssh_ended)
    with pytest.raises(TransportError) as caught:
        open_transport("ssh:gw1")
    monkeypatch.undo()
    assert "cannot reach gw1" in str(caught.value) and "Connection refused" in str(caught.value), caught.value
    assert "Broken pipe" not in str(caught.value)
