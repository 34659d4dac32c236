"""Script mode: ``setkey -f FILE``, ``setkey -c`` and ``-d``, behaving as ipsec-tools' setkey does.

Statements are scanned, parsed, compiled and sent one at a time; a bad statement stops a file (``line N:
MESSAGE at [TOKEN]``, ``parse failed, line N.``, exit 1) after the statements before it were sent, while
``-c`` reports it and carries on with the next one. Kernel errors print ``The result of line N: MESSAGE.``
and never stop the script. Replies are read as setkey's ``sendkeymsg`` reads them: the next message on
the socket, until one with an error or with ``sadb_msg_seq`` 0.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Literal, TextIO, cast

from setkey_tui.kernel.base import Transport, TransportError
from setkey_tui.lang.compile import Supported, compile_statement, deleteall_messages
from setkey_tui.lang.errors import SetkeyParseError
from setkey_tui.lang.grammar import build, error_at
from setkey_tui.lang.lexer import K, Scanner
from setkey_tui.lang.statements import (
    DeleteAllStatement,
    ExitStatement,
    SAStatement,
    SPDStatement,
    SPDTaggedStatement,
    Statement,
)
from setkey_tui.pfkey.constants import ExtType, MsgType, SAState
from setkey_tui.pfkey.extensions import PolicyExt, SAExt, SupportedExt
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.pfkey.wire import DecodeError, EncodeError

RECV_TIMEOUT = 1.0  # setkey's SO_RCVTIMEO
PROG = "setkey"


class _Abort(Exception):
    """Stop the script with this exit status (REGISTER failed, a fatal lexer error)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Session:
    """One run of a script: the socket conversation and setkey's little pieces of state."""

    def __init__(self, transport: Transport | None, *, stdin_mode: bool, verbose: bool, dry_run: bool,
                 kernel_mode: bool, no_action: bool, out: TextIO, err: TextIO, now: Callable[[], float],
                 pid: int | None, hexdump: bool = False, show_all: bool = False,
                 withports: bool = False) -> None:
        self.transport = None if dry_run else transport
        self.platform: Platform = transport.platform if transport is not None else LINUX
        self.byteorder: Literal["little", "big"] = "little" if self.platform.byteorder == "<" else "big"
        self.stdin_mode = stdin_mode
        self.verbose = verbose
        self.hexdump = hexdump
        self.show_all = show_all
        self.withports = withports
        self.dry_run = dry_run
        self.kernel_mode = kernel_mode
        self.no_action = no_action
        self.out = out
        self.err = err
        self.now = now
        if pid is None:
            pid = 0 if dry_run else os.getpid()
        self.pid = pid & 0xFFFFFFFF
        self.supported: Supported | None = None
        self.last_priority = 0
        self.last_was_spdadd = False
        self.priority_checked = False

    # ------------------------------------------------------------------ kernel conversation
    def register(self) -> None:
        """SADB_REGISTER (satype 0) and keep the kernel's algorithm lists for the key-length checks."""
        if self.transport is None:
            return
        req = Message(MsgType.REGISTER, 0, pid=self.pid).encode(self.platform)
        try:
            self.transport.send(req)
            while True:
                data = self.transport.recv(RECV_TIMEOUT)
                if data is None:
                    self.err.write(f"{PROG}: no answer from the kernel to SADB_REGISTER\n")
                    raise _Abort(1)
                try:
                    msg = decode(data, self.platform)
                except DecodeError:
                    continue
                if msg.type != MsgType.REGISTER or msg.pid != self.pid:
                    continue
                if msg.errno:
                    self.err.write(f"{PROG}: SADB_REGISTER failed: {os.strerror(msg.errno)}\n")
                    raise _Abort(1)
                auth = enc = ()
                for e in msg.extensions:
                    if isinstance(e, SupportedExt) and e.ext_type == ExtType.SUPPORTED_AUTH:
                        auth = e.algs
                    elif isinstance(e, SupportedExt) and e.ext_type == ExtType.SUPPORTED_ENCRYPT:
                        enc = e.algs
                self.supported = (auth, enc)
                return
        except TransportError as exc:
            self.err.write(f"{PROG}: {exc}\n")
            raise _Abort(1) from None

    def _kdebug(self, data: bytes) -> None:
        from setkey_tui.render.kdebug import kdebug

        text = kdebug(data, self.platform)
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.write("\n")

    def _show_request(self, data: bytes) -> None:
        """What setkey prints of a request before sending it: -v's decoding, then -h/-H's hex dump."""
        if self.verbose:
            self._kdebug(data)
        if self.hexdump:
            from setkey_tui.render.hexdump import hexdump

            self.out.write(hexdump(data))

    def sendkeymsg(self, data: bytes, line: int) -> None:
        """Send one request and consume its reply (or a whole dump), printing what setkey prints."""
        if self.no_action:
            return
        if self.dry_run or self.transport is None:
            if self.dry_run:
                self.out.write(data.hex() + "\n")
            return
        self._show_request(data)
        try:
            self.transport.send(data)
            while True:
                reply = self.transport.recv(RECV_TIMEOUT)
                if reply is None:
                    self.err.write("recv: Resource temporarily unavailable\n")  # perror("recv")
                    return
                if len(reply) < 16 or int.from_bytes(reply[4:6], self.byteorder) * 8 != len(reply):
                    self.err.write(f"{PROG}: invalid keymsg length\n")
                    return
                if self.verbose:
                    self._kdebug(reply)
                try:
                    rmsg = decode(reply, self.platform)
                except DecodeError as exc:
                    self.err.write(f"{PROG}: undecodable reply: {exc}\n")
                    return
                if not self.postproc(rmsg, line):
                    return
                if rmsg.seq == 0:
                    return
        except TransportError as exc:
            self.err.write(f"{PROG}: {exc}\n")

    def postproc(self, msg: Message, line: int) -> bool:
        """setkey's postproc: report an error (False: stop reading) or print a GET/DUMP answer."""
        if msg.errno:
            from setkey_tui.render.errors import strerror_setkey

            text = strerror_setkey(msg.errno, msg.type, platform=self.platform)
            if self.stdin_mode:
                self.out.write(f"{text}.\n")
            else:
                self.out.write(f"The result of line {line}: {text}.\n")
            return False
        now = int(self.now())
        if msg.type == MsgType.GET:
            from setkey_tui.render.sadump import format_sa

            self.out.write(format_sa(msg, now=now, withports=self.withports, platform=self.platform))
        elif msg.type == MsgType.DUMP:
            sa = msg.get(ExtType.SA)
            if self.show_all or not (isinstance(sa, SAExt) and sa.state == SAState.DEAD):
                from setkey_tui.render.sadump import format_sa

                self.out.write(format_sa(msg, now=now, withports=self.withports, platform=self.platform))
        elif msg.type in (MsgType.X_SPDGET, MsgType.X_SPDDUMP):
            from setkey_tui.render.spdump import format_sp

            self.out.write(format_sp(msg, now=now, withports=self.withports, platform=self.platform))
        elif msg.type == MsgType.X_SPDADD:
            self._verify_priority(msg)
        return True

    def _verify_priority(self, msg: Message) -> None:
        if not (self.last_was_spdadd and self.last_priority and msg.pid == self.pid and not self.priority_checked):
            return
        self.priority_checked = True
        pol = msg.get(ExtType.X_POLICY)
        if not isinstance(pol, PolicyExt):
            self.out.write("no X_POLICY extension.\n")
        elif pol.priority != self.last_priority:
            self.out.write("WARNING: Kernel does not support policy priorities\n")

    def spigrep(self, stmt: DeleteAllStatement, data: bytes) -> list[Message]:
        """Linux deleteall: DUMP the SAD of the protocol (``data``) and keep the SAs between the two hosts."""
        if self.no_action:
            return []
        if self.dry_run or self.transport is None:
            if self.dry_run:
                self.out.write(data.hex() + "\n")
            return []
        self._show_request(data)
        found: list[Message] = []
        try:
            self.transport.send(data)
            while True:
                reply = self.transport.recv(RECV_TIMEOUT)
                if reply is None:
                    self.err.write("recv: Resource temporarily unavailable\n")  # perror("recv")
                    return []
                if self.verbose:
                    self._kdebug(reply)
                try:
                    m = decode(reply, self.platform)
                except DecodeError:
                    self.err.write(f"{PROG}: invalid keymsg length\n")
                    return []
                if m.type != MsgType.DUMP:
                    self.err.write(f"{PROG}: unexpected message type\n")
                    return []
                if m.errno:
                    self.err.write(f"{PROG}: error encountered\n")
                    return []
                found.append(m)
                if m.seq == 0:
                    break
        except TransportError as exc:
            self.err.write(f"{PROG}: {exc}\n")
            return []
        return deleteall_messages(stmt, found, platform=self.platform)

    # ------------------------------------------------------------------ statements
    def first_error(self, exc: SetkeyParseError) -> SetkeyParseError:
        """The error setkey meets first: a syntax error, or a check (a key length) of the tokens before it.

        Parse-time warnings of those tokens are printed, as setkey prints them while it reads."""
        if exc.partial is None:
            return exc
        partial = cast(Statement, exc.partial)
        limit = exc.pos - 1 if exc.fatal else exc.pos
        if partial.source is not None:
            for message, ref in partial.source.warnings:
                if 0 <= ref.pos <= limit:
                    self.out.write(f"line {ref.line}: {message} at [{ref.text}]\n")
        try:
            compile_statement(partial, platform=self.platform, supported=self.supported,
                              kernel_mode=self.kernel_mode)
        except SetkeyParseError as earlier:
            if not earlier.silent and 0 <= earlier.pos <= limit:
                return earlier
        return exc

    def report(self, exc: SetkeyParseError) -> None:
        """Print a parse error as setkey does (stdout) plus the caret picture (stderr)."""
        for line in exc.stderr_lines:
            self.err.write(line + "\n")
        if not exc.silent:
            self.out.write(f"line {exc.line}: {exc.message} at [{exc.token}]\n")
        picture = exc.caret()
        if picture:
            self.err.write(picture + "\n")

    def execute(self, stmt: Statement) -> None:
        """Compile one parsed statement and send its messages."""
        assert stmt.source is not None
        for message, ref in stmt.source.warnings:
            self.out.write(f"line {ref.line}: {message} at [{ref.text}]\n")
        msgs = compile_statement(stmt, platform=self.platform, supported=self.supported,
                                 kernel_mode=self.kernel_mode)
        line = stmt.source.end.line
        try:
            wire = [m._replace(pid=self.pid).encode(self.platform) for m in msgs]
        except EncodeError as exc:
            raise error_at(f"statement does not fit in a PF_KEY message ({exc})", stmt.source.end) from None
        self._spi_warning(stmt, line)
        if isinstance(stmt, SPDStatement | SPDTaggedStatement):
            # setkey remembers the priority of every policy it parses, the type only of spdadd/spdupdate.
            self.last_priority = stmt.policy.priority_value() if self.platform.policy_priority else 0
            if isinstance(stmt, SPDStatement) and stmt.command != "spddelete":
                self.last_was_spdadd = stmt.command == "spdadd"
        if isinstance(stmt, DeleteAllStatement) and self.platform is LINUX:
            for m in self.spigrep(stmt, wire[0]):
                self.sendkeymsg(m._replace(pid=self.pid).encode(self.platform), line)
            return
        for data in wire:
            self.sendkeymsg(data, line)

    def _spi_warning(self, stmt: Statement, line: int) -> None:
        if (isinstance(stmt, SAStatement) and stmt.command == "add" and stmt.spi <= 255
                and stmt.protocol in ("esp", "esp-old", "esp-udp", "ah", "ah-old")):
            self.err.write(f"{PROG}: warning: line {line}: SPI {stmt.spi} is in the reserved range 0-255 "
                           "(RFC 4303); BSD kernels refuse it\n")

    def run_file(self, text: str) -> int:
        """``-f``: the whole text, stopping at the first bad statement."""
        scanner = Scanner(text)
        while True:
            toks = scanner.statement()
            if len(toks) == 1 and toks[0].kind == K.EOF:
                return 0
            try:
                stmt = build(toks, text)
                if isinstance(stmt, ExitStatement):
                    return 0
                self.execute(stmt)
            except SetkeyParseError as exc:
                first = self.first_error(exc)
                self.report(first)
                if first.fatal:
                    return 1
                self.out.write(f"parse failed, line {first.line}.\n")
                return 1

    def run_stdin(self, text: str) -> int:
        """``-c``: ipsec-tools' line loop: comments cut, lines joined with a blank, one parse per ``;``."""
        buf = ""
        for raw in text.split("\n"):
            line = raw.split("#", 1)[0]
            if not line:
                continue
            buf = f"{buf} {line}" if buf else line
            while ";" in buf:
                cut = buf.index(";") + 1
                chunk, buf = buf[:cut], buf[cut:]
                status = self._run_chunk(chunk)
                if status is not None:
                    return status
        return 0

    def _run_chunk(self, chunk: str) -> int | None:
        self.last_was_spdadd = False
        scanner = Scanner(chunk, first_line=0)
        while True:
            toks = scanner.statement()
            if len(toks) == 1 and toks[0].kind == K.EOF:
                return None
            try:
                stmt = build(toks, chunk)
                if isinstance(stmt, ExitStatement):
                    return 0
                self.execute(stmt)
            except SetkeyParseError as exc:
                first = self.first_error(exc)
                self.report(first)
                if first.fatal:
                    return 1
                return None


def run_script(text: str, transport: Transport | None, *, stdin_mode: bool = False, verbose: bool = False,
               dry_run: bool = False, kernel_mode: bool = False, out: TextIO | None = None,
               err: TextIO | None = None, now: Callable[[], float] = time.time, no_action: bool = False,
               pid: int | None = None, hexdump: bool = False, show_all: bool = False,
               withports: bool = False) -> int:
    """Run a setkey script like ``setkey -f`` (or ``-c`` with ``stdin_mode``); the exit status.

    ``dry_run`` (``-d``): no kernel; each message that would be sent is printed as one line of lowercase
    hex (pid 0). ``no_action`` (``-n``): parse and check only. ``kernel_mode`` (``-k``): no ``fwd`` copies.
    ``verbose`` (``-v``): every message sent and received, decoded. ``hexdump`` (``-h``/``-H``): every request
    as a hex dump before it is sent. ``show_all`` (``-a``): ``dump`` answers include dead SAs; ``withports``
    (``-p``): ``get``/``dump``/``spddump`` answers show ports, as ``-D -p``. ``pid``: the sadb_msg_pid to send
    (default: this process's, 0 with ``dry_run``). Without a transport and without
    ``dry_run`` the script is only parsed and checked (against the built-in Linux algorithm table).
    """
    session = _Session(transport, stdin_mode=stdin_mode, verbose=verbose, dry_run=dry_run,
                       kernel_mode=kernel_mode, no_action=no_action, out=out or sys.stdout,
                       err=err or sys.stderr, now=now, pid=pid, hexdump=hexdump, show_all=show_all,
                       withports=withports)
    try:
        session.register()
        if stdin_mode:
            return session.run_stdin(text)
        return session.run_file(text)
    except _Abort as exc:
        return exc.status
    finally:
        session.out.flush()


__all__ = ["run_script"]
