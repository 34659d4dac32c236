"""The command line: flags, exit codes, errors without tracebacks, -F/-D/-l/-x/-v/-h behaviour, script hand-off."""

from __future__ import annotations

import errno
import os
import sys
import types

import pytest

from setkey_tui import cli
from setkey_tui.kernel.replay import ReplayTransport
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import header_only
from setkey_tui.pfkey.platform import LINUX

from .helpers import esp_sa, policy


@pytest.fixture
def captured_transport(monkeypatch):
    """Make the CLI open ReplayTransports we can inspect afterwards."""
    opened: list[ReplayTransport] = []

    def fake_open(spec: str, platform):
        assert spec.startswith("replay:")
        t = ReplayTransport(spec[len("replay:"):], platform)
        opened.append(t)
        return t

    monkeypatch.setattr(cli, "open_kernel", fake_open)
    return opened


def test_help_lists_every_flag(run_cli) -> None:
    r = run_cli("--help")
    assert r.rc == 0
    for flag in ("-D", "-P", "-a", "-p", "-l", "-F", "-x", "-h, -H", "-v", "-c", "-f FILE", "-d", "-k", "-n",
                 "-V", "--kernel", "--platform", "--record", "serve-sim", "SETKEY_TUI_NOW"):
        assert flag in r.out


def test_usage_errors_exit_1(run_cli) -> None:
    r = run_cli("-Z")
    assert r.rc == 1 and "usage:" in r.out and r.err == "setkey-tui: option -Z not recognized\n"
    assert run_cli("-f").rc == 1
    r = run_cli("--record", "x.hex", "-D")
    assert r.rc == 1 and "--record needs -x" in r.err
    assert run_cli().rc == 1  # no operation and not a terminal: usage
    r = run_cli("-V")
    assert r.rc == 1 and r.out.startswith("setkey-tui @(#) ")


def test_bad_environment_and_platform(run_cli, monkeypatch) -> None:
    r = run_cli("--platform", "plan9", "-D")
    assert r.rc == 1 and r.err.count("\n") == 1 and "unknown platform" in r.err
    monkeypatch.setenv("SETKEY_TUI_NOW", "yesterday")
    r = run_cli("-D", "--kernel", "replay:/nonexistent")
    assert r.rc == 1 and r.err.count("\n") == 1


def test_unopenable_kernel_is_one_line(run_cli, tmp_path) -> None:
    r = run_cli("--kernel", f"replay:{tmp_path / 'missing.hex'}", "-D")
    assert r.rc == 1 and r.out == ""
    assert r.err.count("\n") == 1 and "Traceback" not in r.err and "cannot open kernel" in r.err


def test_kernel_from_environment(run_cli, replay_file, monkeypatch) -> None:
    path = replay_file([esp_sa().encode(LINUX)])
    monkeypatch.setenv("SETKEY_TUI_KERNEL", f"replay:{path}")
    r = run_cli("-D")
    assert r.rc == 0 and r.out.startswith("10.0.0.1 10.0.0.2 \n")


def test_flush_sends_and_reports(run_cli, replay_file, captured_transport) -> None:
    ok = header_only(MsgType.FLUSH, 0, pid=1)
    bad = header_only(MsgType.X_SPDFLUSH, 0, errno=errno.EINVAL)
    r = run_cli("--kernel", f"replay:{replay_file([ok.encode(LINUX)])}", "-F")
    assert (r.rc, r.out, r.err) == (0, "", "")
    r = run_cli("--kernel", f"replay:{replay_file([bad.encode(LINUX)])}", "-FP")
    assert (r.rc, r.out) == (0, "Invalid argument.\n")
    sent = [t.sent[0] for t in captured_transport]
    assert [(m[1], m[3]) for m in sent] == [(MsgType.FLUSH, 0), (MsgType.X_SPDFLUSH, 0)]


def test_dump_request_and_dead_filter(run_cli, replay_file, captured_transport) -> None:
    path = replay_file([esp_sa(seq=1, state=3).encode(LINUX), esp_sa(seq=0, spi=0x2000).encode(LINUX)])
    r = run_cli("--kernel", f"replay:{path}", "-D")
    assert r.rc == 0 and "spi=8192(" in r.out and "spi=4096(" not in r.out
    (t,) = captured_transport
    assert (t.sent[0][1], t.sent[0][3]) == (MsgType.DUMP, 0)


def test_dump_without_reply_is_an_error_not_an_empty_success(run_cli, replay_file) -> None:
    r = run_cli("--kernel", f"replay:{replay_file([])}", "-D")
    assert (r.rc, r.out) == (1, "")
    assert r.err == ("setkey-tui: no answer from the kernel within 1 s (recv: Resource temporarily unavailable)\n")


def test_invalid_keymsg_length(run_cli, replay_file) -> None:
    data = bytearray(esp_sa().encode(LINUX))
    data[4] += 1
    r = run_cli("--kernel", f"replay:{replay_file([bytes(data)])}", "-D")
    assert r.rc == 1 and r.err == "setkey: invalid keymsg length\n"  # setkey's wording, setkey's prefix


def test_verbose_and_hex_show_request_and_reply(run_cli, replay_file) -> None:
    path = replay_file([policy().encode(LINUX)])
    r = run_cli("--kernel", f"replay:{path}", "-DP", "-v", "-H")
    lines = r.out.splitlines()
    assert lines[0].startswith("sadb_msg{ version=2 type=18 errno=0 satype=0")
    assert lines[3].startswith("00000000: 02 12 00 00 02 00 ")
    assert "sadb_x_policy{ type=2 dir=2 id=9 priority=2147483648 }" in lines
    assert "10.0.0.0/24[any] 10.0.1.0/24[any] 255" in lines


def test_short_loop_ends_with_the_recording(run_cli, replay_file) -> None:
    path = replay_file([esp_sa().encode(LINUX)])
    r = run_cli("--kernel", f"replay:{path}", "-D", "-l")
    assert r.rc == 0
    assert r.out == "time p   s spi      ltime   src -> dst\n1320 esp M 00001000 100/big 10.0.0.1 -> 10.0.0.2\n"


def test_monitor_record_and_replay_times(run_cli, replay_file, tmp_path) -> None:
    path = replay_file([esp_sa().encode(LINUX), header_only(MsgType.FLUSH).encode(LINUX)])
    rec = tmp_path / "rec.hex"
    first = run_cli("--kernel", f"replay:{path}", "-xx", "--record", str(rec))
    assert first.rc == 0 and first.out.count("1700000000.000000 \n") == 2
    lines = rec.read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("1700000000.000000 ") for line in lines)
    assert rec.stat().st_mode & 0o777 == 0o600  # recordings carry keys
    rec.chmod(0o644)
    assert run_cli("--kernel", f"replay:{path}", "-xx", "--record", str(rec)).rc == 0
    assert rec.stat().st_mode & 0o777 == 0o600 and len(rec.read_text().splitlines()) == 2
    timed = replay_file([esp_sa().encode(LINUX)], times=[1700003600.5])
    again = run_cli("--kernel", f"replay:{timed}", "-x")
    assert again.out.startswith("23:13:20.500000 \nsadb_msg{ version=2 type=10 ")


def test_raw_message_files(run_cli, tmp_path) -> None:
    f = tmp_path / "msgs.bin"
    f.write_bytes(esp_sa(seq=1).encode(LINUX) + esp_sa(seq=0, spi=0x2000).encode(LINUX))
    r = run_cli(str(f))
    assert r.rc == 0 and r.out.count("\tsadb_seq=") == 2
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x02\x03\x00")
    r = run_cli(str(bad))
    assert r.rc == 1 and r.err.startswith("setkey-tui: ")


def _read_all(read) -> str:
    parts = []
    while chunk := read(65536):
        parts.append(chunk)
    return "".join(parts)


def test_script_modes_hand_off_to_run_script(run_cli, monkeypatch, tmp_path, replay_file, captured_transport) -> None:
    from setkey_tui.script import fd_reader

    calls: list[dict] = []

    def run_script(source, transport, **kw):
        calls.append({"text": _read_all(source), "transport": transport, **kw})
        kw["out"].write("ran\n")
        return 0

    fake = types.SimpleNamespace(run_script=run_script, fd_reader=fd_reader)
    monkeypatch.setitem(sys.modules, "setkey_tui.script", fake)
    script = tmp_path / "s.conf"
    script.write_text("flush;\n")
    assert run_cli("-d", "-f", str(script)).out == "ran\n"
    assert calls[-1]["dry_run"] and calls[-1]["transport"] is None and not calls[-1]["stdin_mode"]
    run_cli("--kernel", f"replay:{replay_file([])}", "-n", "-k", "-f", str(script))
    assert calls[-1]["no_action"] and calls[-1]["kernel_mode"] and not calls[-1]["dry_run"]
    assert calls[-1]["transport"] is captured_transport[-1]
    run_cli("--kernel", f"replay:{replay_file([])}", "-v", "-f", str(script))
    assert calls[-1]["transport"] is captured_transport[-1] and calls[-1]["verbose"]
    assert calls[-1]["text"] == "flush;\n" and callable(calls[-1]["now"]) and calls[-1]["now"]() == 1700000000
    rfd, wfd = os.pipe()
    os.write(wfd, b"spdflush;\n")
    os.close(wfd)
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(fileno=lambda: rfd, isatty=lambda: False))
    try:
        run_cli("--kernel", f"replay:{replay_file([])}", "-n", "-c")
    finally:
        os.close(rfd)
    assert calls[-1]["stdin_mode"] and calls[-1]["text"] == "spdflush;\n"
    r = run_cli("-f", str(tmp_path / "missing.conf"))
    assert r.rc == 1 and "cannot open" in r.err and r.err.count("\n") == 1


def test_no_operation_on_a_terminal_starts_the_tui(run_cli, monkeypatch) -> None:
    started: list[tuple] = []
    fake = types.ModuleType("setkey_tui.tui.app")
    fake.run = lambda kernel_spec, platform: started.append((kernel_spec, platform)) or 0
    monkeypatch.setitem(sys.modules, "setkey_tui.tui.app", fake)
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr(cli.sys.stdout, "isatty", lambda: True, raising=False)
    r = run_cli("--kernel", "sim", "--platform", "linux")
    assert r.rc == 0 and started == [("sim", LINUX)]


def test_serve_sim_usage(run_cli) -> None:
    r = run_cli("serve-sim")
    assert r.rc == 1 and "usage: setkey-tui serve-sim PATH" in r.err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_clock_is_refused_in_one_line(run_cli, replay_file, monkeypatch, value: str) -> None:
    monkeypatch.setenv("SETKEY_TUI_NOW", value)
    r = run_cli("--kernel", f"replay:{replay_file([esp_sa().encode(LINUX)])}", "-D")
    assert r.rc == 1 and r.out == ""
    assert r.err == f"setkey-tui: SETKEY_TUI_NOW='{value}' is not a time (seconds since the epoch)\n"


def test_dump_speaks_the_kernels_dialect_whatever_platform_is_asked(run_cli, tmp_path) -> None:
    from setkey_tui.kernel.sim.transport import reset_shared_host

    reset_shared_host()
    script = tmp_path / "sa.conf"
    script.write_text("add 10.0.0.1 10.0.0.2 esp 0x1000 -E aes-cbc 0x00112233445566778899aabbccddeeff ;\n")
    try:
        assert run_cli("--kernel", "sim", "-f", str(script)).rc == 0
        linux = run_cli("--kernel", "sim", "-D")
        r = run_cli("--platform", "freebsd", "--kernel", "sim", "-D")
    finally:
        reset_shared_host()
    assert linux.rc == 0 and linux.out.startswith("10.0.0.1 10.0.0.2 \n\tesp mode=transport spi=4096")
    assert (r.rc, r.out) == (0, linux.out)
    assert r.err == ("setkey-tui: the simulated kernel (embedded) speaks the linux PF_KEY dialect, "
                     "not freebsd: using linux\n")
