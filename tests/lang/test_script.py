"""The script driver: -f, -c, -d, -n, kernel errors, deleteall through the transport, warnings."""

from __future__ import annotations

import errno
from collections import deque

from setkey_tui.lang import compile_statement, parse_one
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX
from tests.lang.conftest import PID, run
from tests.lang.standin import StandInKernel


def test_file_stops_at_the_first_bad_statement_after_sending_the_earlier_ones() -> None:
    r = run("flush;\nspdflush;\nadd 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc 0x00;\nflush;\n")
    assert r.status == 1
    assert r.out == "line 3: Invalid key length at [0x00]\nparse failed, line 3.\n"
    assert [decode(m).type for m in r.sent] == [MsgType.FLUSH, MsgType.X_SPDFLUSH]
    err = r.err.splitlines()
    assert err[:2] == ["8 128 256", "add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc 0x00;"]
    assert err[2].index("^") == err[1].index("0x00")


def test_stdin_mode_carries_on_after_a_bad_statement() -> None:
    r = run("flush;\nbogus;\nadd 10.0.0.1 10.0.0.2\n esp 1 -E null; spdflush; # x\nexit;\nflush;\n", stdin_mode=True)
    assert r.status == 0
    assert r.out.splitlines()[0] == "line 0: syntax error at [bogus]"
    assert [decode(m).type for m in r.sent] == [MsgType.FLUSH, MsgType.ADD, MsgType.X_SPDFLUSH]


def test_stdin_mode_kernel_errors_and_fatal_lexer_error() -> None:
    r = run("get 10.0.0.1 10.0.0.2 esp 1;\nflush; ! flush;\nflush;\n", stdin_mode=True)
    assert r.out == "No such process.\nline 0: Syntax error at [!]\n"
    assert r.status == 1


def test_kernel_errors_report_the_line_of_the_semicolon_and_go_on() -> None:
    r = run("get 10.0.0.1\n 10.0.0.2 esp 1\n;\ndump esp;\nspddump;\n")
    assert r.status == 0
    assert r.out == ("The result of line 3: No such process.\nThe result of line 4: No SAD entries.\n"
                     "The result of line 5: No SPD entries.\n")


def test_dry_run_prints_hex_of_every_message_without_a_kernel() -> None:
    text = "add 10.0.0.1 10.0.0.2 esp 0x100 -E null;\nspdadd 10.0.0.0/8 10.1.0.0/16 any -P in none;\n"
    r = run(text, kernel=False, dry_run=True)
    assert r.status == 0
    expected = [m._replace(pid=PID).encode().hex() for line in text.splitlines()
                for m in compile_statement(parse_one(line))]
    assert r.out.splitlines() == expected


def test_no_action_parses_but_sends_nothing() -> None:
    r = run("flush;\nadd 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc 0x00;\n", no_action=True)
    assert r.sent == []
    assert r.status == 1


def test_small_spi_warning_goes_to_stderr_only() -> None:
    r = run("add 10.0.0.1 10.0.0.2 esp 255 -E null;\nadd 10.0.0.1 10.0.0.2 esp 256 -E null;\n")
    assert r.status == 0 and r.out == ""
    assert len(r.sent) == 2
    assert r.err.count("reserved range") == 1


class DumpingKernel(StandInKernel):
    """A stand-in whose SAD holds SAs: DUMP answers them (seq counting down to 0)."""

    def __init__(self, sas: list[Message]) -> None:
        super().__init__()
        self.sas = sas

    def send(self, data: bytes) -> None:
        msg = decode(data, self.platform)
        if msg.type != MsgType.DUMP:
            super().send(data)
            return
        self.sent.append(bytes(data))
        n = len(self.sas)
        q: deque[bytes] = self._queue
        if n == 0:
            q.append(Message(MsgType.DUMP, msg.satype, 0, msg.pid, errno.ENOENT).encode(LINUX))
        for i, sa in enumerate(self.sas):
            q.append(sa._replace(type=MsgType.DUMP, seq=n - 1 - i, pid=msg.pid).encode(LINUX))


def test_deleteall_dumps_then_deletes_each_matching_sa() -> None:
    sas = [compile_statement(parse_one(f"add {s} 10.0.0.2 esp {spi} -E null;"))[0]
           for s, spi in (("10.0.0.1", 5), ("10.0.0.3", 6), ("10.0.0.1", 7))]
    from io import StringIO

    from setkey_tui.script import run_script

    k = DumpingKernel(sas)
    out, err = StringIO(), StringIO()
    status = run_script("deleteall 10.0.0.1 10.0.0.2 esp;\n", k, out=out, err=err, pid=PID)
    assert status == 0
    msgs = [decode(m) for m in k.sent[1:]]
    assert [m.type for m in msgs] == [MsgType.DUMP, MsgType.DELETE, MsgType.DELETE]
    assert [m.extensions[0].spi for m in msgs[1:]] == [5, 7]  # type: ignore[union-attr]


def test_exit_stops_a_file() -> None:
    r = run("flush;\nquit;\nflush;\n")
    assert r.status == 0 and len(r.sent) == 1


def test_silent_failure_prints_only_parse_failed() -> None:
    r = run("add 10.0.0.1 ::1 esp 1 -E null;\n")
    assert r.status == 1
    assert r.out == "parse failed, line 1.\n"
