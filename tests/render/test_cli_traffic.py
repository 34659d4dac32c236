"""``setkey-tui traffic``: one verdict line per packet on the simulated kernel; one error line otherwise."""

from __future__ import annotations

import pytest

from setkey_tui.kernel.sim.transport import SimTransport, reset_shared_host
from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.grammar import parse
from setkey_tui.service import KeyService

STATE = (
    "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/transport//require ;\n"
    "spdadd 10.5.0.1 10.6.0.1 tcp -P out ipsec esp/transport//require ;\n"
    "spdadd 10.7.0.0/24 10.8.0.0/24 any -P out discard ;\n"
    "add 10.5.0.1 10.6.0.1 esp 0x1001 -m transport -bs 300 -bh 500 "
    "-E aes-cbc 0x00112233445566778899aabbccddeeff ;\n"
)


@pytest.fixture
def sim_state():
    """A fresh process-wide simulated kernel (``--kernel sim``) holding STATE."""
    host = reset_shared_host()
    svc = KeyService(SimTransport(host), pid=77)
    for st in parse(STATE):
        for msg in compile_statement(st):
            svc.request(msg)
    svc.close()
    yield host
    reset_shared_host()


def test_bytes_counted_per_packet_until_the_hard_lifetime(run_cli, sim_state) -> None:
    r = run_cli("--kernel", "sim", "traffic", "10.5.0.1", "10.6.0.1", "--proto", "tcp", "--dport", "443",
                "--size", "100", "--count", "6")
    assert r.rc == 0 and r.err == ""
    lines = r.out.splitlines()
    assert len(lines) == 6
    head = "policy 9 (out ipsec): 10.5.0.1[any] -> 10.6.0.1[any] tcp matched: "
    assert lines[0] == head + "carried by esp SA 0x00001001 10.5.0.1 -> 10.6.0.1, now 100 bytes (1 packet)"
    assert lines[4].endswith("now 500 bytes (5 packets)")
    assert lines[5] == head + "its SA reached a hard lifetime: the kernel expired it (dropped)"


def test_acquire_then_pending_then_clear_and_discard(run_cli, sim_state) -> None:
    r = run_cli("traffic", "10.1.2.3", "10.2.3.4", "--count", "2", "--kernel=sim")
    assert r.rc == 0
    first, second = r.out.splitlines()
    assert first.endswith("matched: no SA: the kernel raised ACQUIRE for a key manager; the packet is dropped")
    assert "an ACQUIRE is already pending" in second
    assert run_cli("--kernel", "sim", "traffic", "10.5.0.1", "10.6.0.1", "--proto", "17").out == (
        "no policy matched: sent in the clear\n")
    r = run_cli("--kernel", "sim", "traffic", "10.7.0.1", "10.8.0.9")
    assert r.out.endswith("matched: the policy discards it: dropped\n") and "(out discard)" in r.out


def test_auto_says_it_uses_the_simulated_kernel(run_cli, sim_state, monkeypatch) -> None:
    from setkey_tui import cli

    monkeypatch.setattr(cli, "open_kernel", lambda spec, platform: SimTransport(sim_state,
                                                                               description="simulated kernel (x)"))
    r = run_cli("traffic", "1.1.1.1", "2.2.2.2")
    assert r.rc == 0 and r.out == "no policy matched: sent in the clear\n"
    assert r.err == "setkey-tui: using the simulated kernel (x)\n"


def test_not_on_a_replay_kernel(run_cli, replay_file) -> None:
    path = replay_file([])
    r = run_cli("--kernel", f"replay:{path}", "traffic", "10.1.0.1", "10.2.0.1")
    assert r.rc == 1 and r.out == ""
    assert r.err.startswith("setkey-tui: traffic can only be simulated on the simulated kernel (this is: ")
    assert len(r.err.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("traffic", "10.1.0.1"), "traffic needs a source and a destination address"),
        (("traffic", "10.1.0.1", "fd00::1"),
         "destination: fd00::1 is IPv6 but the source 10.1.0.1 is IPv4: both must be of one version"),
        (("traffic", "10.1.0.1", "10.1.0.x"), "destination: 10.1.0.x is not an IP address"),
        (("traffic", "10.1.0.y", "10.1.0.x"), "source: 10.1.0.y is not an IP address"),
        (("traffic", "1.1.1.1", "2.2.2.2", "--dport", "-1"), "--dport: -1 is out of range (0-65535)"),
        (("traffic", "1.1.1.1", "2.2.2.2", "--count", "1000001"), "--count: 1000001 is out of range (1-1000000)"),
        (("traffic", "1.1.1.1", "2.2.2.2", "--proto", "foo"), "--proto: unknown protocol 'foo'"),
        (("traffic", "1.1.1.1", "2.2.2.2", "--proto", "300"), "--proto: 300 is out of range"),
        (("traffic", "1.1.1.1", "2.2.2.2", "--count", "0"), "--count: 0 is out of range"),
        (("traffic", "1.1.1.1", "2.2.2.2", "--sport", "x"), "--sport: 'x' is not a number"),
        (("traffic", "1.1.1.1", "2.2.2.2", "--size", "70000"), "--size: 70000 is out of range"),
        (("traffic", "1.1.1.1", "2.2.2.2", "--bogus"), "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_are_one_line(run_cli, argv, message) -> None:
    r = run_cli("--kernel", "sim", *argv)
    assert r.rc == 1 and r.out == ""
    assert r.err.startswith("setkey-tui: traffic: ") and message in r.err and len(r.err.splitlines()) == 1


def test_help_names_the_subcommand(run_cli) -> None:
    out = run_cli("--help").out
    assert "traffic SRC DST" in out and "--count N" in out
