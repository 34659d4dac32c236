"""Script mode: ``setkey -f FILE``, ``setkey -c`` and ``-d``, behaving as ipsec-tools' setkey does.

Statements are scanned, parsed, compiled and sent one at a time; a bad statement stops a file (``line N:
MESSAGE at [TOKEN]``, ``parse failed, line N.``, exit 1) after the statements before it were sent, while
``-c`` reports it and carries on with the next one. Kernel errors print ``The result of line N: MESSAGE.``
and never stop the script. Replies are read as setkey's ``sendkeymsg`` reads them: the next message on
the socket, until one with an error or with ``sadb_msg_seq`` 0.
"""

from __future__ import annotations

import codecs
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Literal, NoReturn, TextIO, cast

from setkey_tui.kernel.base import MessagesLost, Transport, TransportError, answers_in_order, reply_timeout
from setkey_tui.lang.compile import Supported, compile_statement, deleteall_messages
from setkey_tui.lang.errors import SetkeyParseError
from setkey_tui.lang.fastpath import ADD, SPDADD, FastAdd, FastSpdAdd
from setkey_tui.lang.grammar import build, error_at
from setkey_tui.lang.lexer import INITIAL, K, Scanner, Token
from setkey_tui.lang.statements import (
    DeleteAllStatement,
    ExitStatement,
    SAStatement,
    SPDStatement,
    SPDTaggedStatement,
    Statement,
)
from setkey_tui.pfkey.constants import ExtType, MsgType, SAState
from setkey_tui.pfkey.extensions import Alg, PolicyExt, SAExt, SupportedExt
from setkey_tui.pfkey.message import Message, decode, encode
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.pfkey.wire import DecodeError, EncodeError

PROG = "setkey"  # the prefix of setkey's own wording
TUI = "setkey-tui"  # the prefix of our own messages
READ_SIZE = 65536
MAX_STATEMENT = 16 << 20  # characters one statement may take before it is refused
DASH_LOOKAHEAD = 4  # "-ctx": the longest flag a lone '-' at the end of a piece may still become
# Successful answers setkey prints nothing for (postproc shows GET/DUMP/SPDGET/SPDDUMP, checks SPDADD).
_SILENT_ANSWERS = frozenset({MsgType.GETSPI, MsgType.UPDATE, MsgType.ADD, MsgType.DELETE, MsgType.FLUSH,
                             MsgType.X_SPDUPDATE, MsgType.X_SPDDELETE, MsgType.X_SPDDELETE2, MsgType.X_SPDFLUSH})
_SEQ0 = bytes(4)
_SPD_STATEMENTS = (SPDStatement, SPDTaggedStatement)
# Answers whose type is not the request's (Linux answers SADB_X_SPDSETIDX as SADB_X_SPDADD).
_REPLY_TYPES: dict[int, tuple[int, ...]] = {MsgType.X_SPDSETIDX: (MsgType.X_SPDSETIDX, MsgType.X_SPDADD)}


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
        # A recording answers each request with its next messages, addressed to whoever recorded them.
        self.match_replies = not answers_in_order(transport)
        self.wait = reply_timeout(transport)  # for each message of an answer
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
        self.applied = 0  # statements the kernel applied (every message answered without an error)
        self.unanswered = 0  # requests whose answer did not come in time
        self.line = 0  # -c: input lines read
        self.last_done = 0  # the line of the last statement carried out
        self.last_wire: list[bytes] = []  # the messages of the last statement executed

    # ------------------------------------------------------------------ kernel conversation
    def register(self) -> None:
        """SADB_REGISTER (satype 0) and keep the kernel's algorithm lists for the key-length checks."""
        if self.transport is None:
            return
        req = Message(MsgType.REGISTER, 0, pid=self.pid).encode(self.platform)
        self._send(req, 0)
        while True:
            data = self._recv(0)
            if data is None:
                self.err.write(f"{TUI}: no answer from the kernel to SADB_REGISTER\n")
                raise _Abort(1)
            if len(data) < 16 or data[1] != MsgType.REGISTER or data[12:16] != req[12:16]:
                continue
            try:
                msg = decode(data, self.platform)
            except DecodeError:
                continue
            if msg.errno:
                self.err.write(f"{TUI}: SADB_REGISTER failed: {os.strerror(msg.errno)}\n")
                raise _Abort(1)
            auth: tuple[Alg, ...] = ()
            enc: tuple[Alg, ...] = ()
            for e in msg.extensions:
                if isinstance(e, SupportedExt) and e.ext_type == ExtType.SUPPORTED_AUTH:
                    auth = e.algs
                elif isinstance(e, SupportedExt) and e.ext_type == ExtType.SUPPORTED_ENCRYPT:
                    enc = e.algs
            self.supported = (auth, enc)
            return

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

    def sendkeymsg(self, data: bytes, line: int) -> bool:
        """Send one request and consume its answer (or a whole dump), printing what setkey prints.

        The answer is the message with the request's pid and type (and, but for a dump, its seq), as the
        kernel addresses it: broadcasts of other sockets' requests are skipped, never taken for ours.
        True when the kernel answered without an error."""
        if not self._sending(data):
            return True
        want_type = data[1]
        types = _REPLY_TYPES.get(want_type, (want_type,))
        want_pid = data[12:16]
        want_seq = None if want_type in (MsgType.DUMP, MsgType.X_SPDDUMP) else data[8:12]
        self._send(data, line)
        ok = True
        while True:
            reply = self._next_reply(line)
            if reply is None:
                return False
            if len(reply) < 16 or int.from_bytes(reply[4:6], self.byteorder) * 8 != len(reply):
                self.err.write(f"{PROG}: invalid keymsg length\n")
                return False
            if self.match_replies and (reply[12:16] != want_pid or reply[1] not in types
                                       or (want_seq is not None and reply[8:12] != want_seq)):
                continue  # another socket's message (or a stale one of ours): not the answer
            if self.verbose:
                self._kdebug(reply)
            elif not reply[2] and (reply[1] in _SILENT_ANSWERS or (
                    reply[1] == MsgType.X_SPDADD and not (self.last_was_spdadd and self.last_priority
                                                          and not self.priority_checked))):
                # nothing to print or check: the header is enough
                if reply[8:12] == _SEQ0:
                    return ok
                continue
            try:
                rmsg = decode(reply, self.platform)
            except DecodeError as exc:
                self.err.write(f"{TUI}: undecodable reply: {exc}\n")
                return False
            if not self.postproc(rmsg, line):
                return False
            ok = ok and not rmsg.errno
            if rmsg.seq == 0:
                return ok

    def _sending(self, data: bytes) -> bool:
        """Whether ``data`` goes to the kernel: not with -n, nor without a kernel; -d prints it instead.
        When it goes, -v shows it first."""
        if self.no_action:
            return False
        if self.dry_run or self.transport is None:
            if self.dry_run:
                self.out.write(data.hex() + "\n")
            return False
        self._show_request(data)
        return True

    def _next_reply(self, line: int) -> bytes | None:
        """The next message of an answer; None, said as setkey's perror("recv"), when the wait ran out."""
        reply = self._recv(line)
        if reply is None:
            self.unanswered += 1
            self.err.write("recv: Resource temporarily unavailable\n")  # perror("recv")
        return reply

    def _send(self, data: bytes, line: int) -> None:
        assert self.transport is not None
        try:
            self.transport.send(data)
        except TransportError as exc:
            self._fail(exc, line)

    def _recv(self, line: int) -> bytes | None:
        """The next message on the socket (None: the wait of one message ran out); a lost-messages notice is
        said and the wait goes on; a failed transport stops the script."""
        assert self.transport is not None
        while True:
            try:
                return self.transport.recv(self.wait)
            except MessagesLost as exc:
                self.err.write(f"{TUI}: {exc}\n")
            except TransportError as exc:
                self._fail(exc, line)

    def _fail(self, exc: TransportError, line: int) -> NoReturn:
        """The kernel connection failed: say it once, and how far the script got; stop with status 1."""
        self.out.flush()
        self.err.write(f"{TUI}: {exc}\n{TUI}: stopped at line {line}: {self.progress()}\n")
        raise _Abort(1)

    def done_line(self) -> int:
        """The line of the last statement carried out (0: none yet)."""
        return self.last_done

    def stop(self, why: str) -> None:
        """Say why the script stops early and how far it got (stdout flushed first when it still can be)."""
        try:
            self.out.flush()
        except (OSError, ValueError):
            pass
        try:
            self.err.write(f"{TUI}: {why} ({self.progress()})\n")
            self.err.flush()
        except (OSError, ValueError):
            pass

    def progress(self) -> str:
        """How many statements the kernel applied so far, in words."""
        n = self.applied
        return f"{n} statement{'' if n == 1 else 's'} applied"

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
        if msg.type == MsgType.GET:
            from setkey_tui.render.sadump import format_sa

            self.out.write(format_sa(msg, now=int(self.now()), withports=self.withports, platform=self.platform))
        elif msg.type == MsgType.DUMP:
            sa = msg.get(ExtType.SA)
            if self.show_all or not (isinstance(sa, SAExt) and sa.state == SAState.DEAD):
                from setkey_tui.render.sadump import format_sa

                self.out.write(format_sa(msg, now=int(self.now()), withports=self.withports,
                                         platform=self.platform))
        elif msg.type in (MsgType.X_SPDGET, MsgType.X_SPDDUMP):
            from setkey_tui.render.spdump import format_sp

            self.out.write(format_sp(msg, now=int(self.now()), withports=self.withports, platform=self.platform))
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

    def spigrep(self, stmt: DeleteAllStatement, data: bytes, line: int) -> list[Message] | None:
        """Linux deleteall: DUMP the SAD of the protocol (``data``) and keep the SAs between the two hosts
        (None when the dump failed)."""
        if not self._sending(data):
            return []
        found: list[Message] = []
        want_pid = data[12:16]
        self._send(data, line)
        while True:
            reply = self._next_reply(line)
            if reply is None:
                return None
            if self.match_replies and len(reply) >= 16 and (reply[12:16] != want_pid
                                                            or reply[1] != MsgType.DUMP):
                continue  # another socket's message
            if self.verbose:
                self._kdebug(reply)
            try:
                m = decode(reply, self.platform)
            except DecodeError:
                self.err.write(f"{PROG}: invalid keymsg length\n")
                return None
            if m.errno:
                self.err.write(f"{PROG}: error encountered\n")
                return None
            found.append(m)
            if m.seq == 0:
                break
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
        """Print a parse error as setkey does (stdout) plus the caret picture (stderr); a token or a line
        longer than a screenful is cut around the error, so a 10 MB line does not come back twice."""
        for line in exc.stderr_lines:
            self.err.write(line + "\n")
        if not exc.silent:
            self.out.write(f"line {exc.line}: {exc.message} at [{exc.token}]\n")
        self.err.write(exc.caret() + "\n")

    def execute(self, stmt: Statement) -> None:
        """Compile one parsed statement and send its messages."""
        assert stmt.source is not None
        for message, ref in stmt.source.warnings:
            self.out.write(f"line {ref.line}: {message} at [{ref.text}]\n")
        msgs = compile_statement(stmt, platform=self.platform, supported=self.supported,
                                 kernel_mode=self.kernel_mode)
        line = stmt.source.end.line
        try:
            wire = [encode(m, self.platform, pid=self.pid) for m in msgs]
        except EncodeError as exc:
            raise error_at(f"statement does not fit in a PF_KEY message ({exc})", stmt.source.end) from None
        self.last_wire = wire
        self._spi_warning(stmt, line)
        if isinstance(stmt, _SPD_STATEMENTS):
            # setkey remembers the priority of every policy it parses, the type only of spdadd/spdupdate.
            self.last_priority = stmt.policy.priority_value() if self.platform.policy_priority else 0
            if isinstance(stmt, SPDStatement) and stmt.command != "spddelete":
                self.last_was_spdadd = stmt.command == "spdadd"
        ok = True
        if isinstance(stmt, DeleteAllStatement) and self.platform is LINUX:
            found = self.spigrep(stmt, wire[0], line)
            ok = found is not None
            for m in found or ():
                ok = self.sendkeymsg(m._replace(pid=self.pid).encode(self.platform), line) and ok
        else:
            for data in wire:
                ok = self.sendkeymsg(data, line) and ok
        if ok:
            self.applied += 1
        self.last_done = self.line if self.stdin_mode else line

    def _spi_warning(self, stmt: Statement, line: int) -> None:
        if (isinstance(stmt, SAStatement) and stmt.command == "add" and stmt.spi <= 255
                and stmt.protocol in ("esp", "esp-old", "esp-udp", "ah", "ah-old")):
            self.err.write(f"{TUI}: warning: line {line}: SPI {stmt.spi} is in the reserved range 0-255 "
                           "(RFC 4303); BSD kernels refuse it\n")

    def run_file(self, read: Callable[[int], str]) -> int:
        """``-f``: statement by statement as the text arrives (``read(n)``: up to about n more characters,
        '' at the end), stopping at the first bad statement. Only the statement being read is held."""
        buf, pos, line, state, eof = "", 0, 1, INITIAL, False
        want = READ_SIZE
        fast = FastAdd(self.platform) if not self.stdin_mode else None
        fast_spd = FastSpdAdd(self.platform) if not self.stdin_mode else None
        match_add, match_spdadd = ADD.match, SPDADD.match
        while True:
            learn = learn_spd = None
            if state == INITIAL and fast is not None and fast_spd is not None:
                # the commonest shapes: straight to bytes once their template is known
                wire: list[bytes] | None = None
                m = match_add(buf, pos)
                if m is not None:
                    data = fast.message(m)
                    if data is None:
                        learn = m
                    else:
                        wire = [data]
                else:
                    m = match_spdadd(buf, pos)
                    if m is not None:
                        made = fast_spd.messages(m)
                        if made is None:
                            learn_spd = m
                        else:
                            wire, self.last_priority = made
                            self.last_was_spdadd = True
                if wire is not None and m is not None:
                    line += buf.count("\n", pos, m.end())
                    pos = m.end()
                    ok = True
                    for data in wire:
                        ok = self.sendkeymsg(data, line) and ok
                    if ok:
                        self.applied += 1
                    self.last_done = line
                    continue
            scanner = Scanner(buf, first_line=line)
            scanner.pos, scanner.state = pos, state
            toks = scanner.statement()
            if not eof and not _complete(toks[-1], buf):
                if len(buf) - pos > MAX_STATEMENT:
                    self.out.flush()
                    self.err.write(f"{TUI}: line {line}: a statement longer than {MAX_STATEMENT >> 20} MiB "
                                   "(no ';'): refused\n")
                    return 1
                cut = buf.rfind("\n", 0, pos) + 1  # keep the line the statement starts on (for columns)
                if cut:
                    buf, pos = buf[cut:], pos - cut
                chunk = read(max(want, len(buf) - pos))  # reading in growing pieces: a long statement is
                if chunk:                                 # scanned O(log n) times, not once per piece
                    buf += chunk
                else:
                    eof = True
                continue
            if len(toks) == 1 and toks[0].kind == K.EOF:
                return 0
            try:
                stmt = build(toks, buf)
                if isinstance(stmt, ExitStatement):
                    return 0
                self.last_wire = []
                self.execute(stmt)
            except SetkeyParseError as exc:
                first = self.first_error(exc)
                self.report(first)
                if first.fatal:
                    return 1
                self.out.write(f"parse failed, line {first.line}.\n")
                return 1
            if (learn is not None and fast is not None and scanner.pos == learn.end()
                    and isinstance(stmt, SAStatement) and stmt.source is not None and not stmt.source.warnings):
                fast.learn(learn, self.last_wire)
            if (learn_spd is not None and fast_spd is not None and scanner.pos == learn_spd.end()
                    and isinstance(stmt, SPDStatement) and stmt.command == "spdadd" and stmt.source is not None
                    and not stmt.source.warnings):
                fast_spd.learn(learn_spd, self.last_wire, self.last_priority)
            pos, line, state = scanner.pos, scanner.line, scanner.state

    def run_stdin(self, read: Callable[[int], str]) -> int:
        """``-c``: ipsec-tools' line loop: each line applied when it is read (comments cut, lines joined with
        a blank, one parse per ``;``)."""
        buf = ""
        for raw in _lines(read):
            self.line += 1
            line = raw.split("#", 1)[0]
            if not line:
                continue
            buf = f"{buf} {line}" if buf else line
            if len(buf) > MAX_STATEMENT:
                self.out.flush()
                self.err.write(f"{TUI}: line {self.line}: a statement longer than {MAX_STATEMENT >> 20} MiB "
                               "(no ';'): refused\n")
                return 1
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


def _complete(last: Token, buf: str) -> bool:
    """Whether a statement ending in token ``last`` is whole before the end of the input is known: it
    reached its ``;``, or a character no more input can turn into a token."""
    if last.kind == K.EOT:
        return True
    if last.kind != K.ERROR:
        return False  # EOF: the statement goes on in the next piece
    if last.text == '"':
        return False  # a quoted string whose closing quote may come later
    return last.text != "-" or len(buf) - last.pos > DASH_LOOKAHEAD


def _lines(read: Callable[[int], str]) -> Iterator[str]:
    """The lines of the input as they arrive (a line longer than MAX_STATEMENT comes in pieces)."""
    carry = ""
    while True:
        chunk = read(READ_SIZE)
        if not chunk:
            if carry:
                yield carry
            return
        parts = (carry + chunk).split("\n")
        carry = parts.pop()
        yield from parts
        if len(carry) > MAX_STATEMENT:
            yield carry
            carry = ""


def text_reader(text: str) -> Callable[[int], str]:
    """A ``read(n)`` over a string already in memory."""
    return io.StringIO(text).read


def fd_reader(fd: int) -> Callable[[int], str]:
    """A ``read(n)`` over a file descriptor: what has arrived (a pipe, a terminal line) without waiting for n
    bytes, decoded as UTF-8 (undecodable bytes kept as surrogates, as for every input path)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")

    def read(n: int) -> str:
        while True:
            data = os.read(fd, n)
            text = decoder.decode(data, final=not data)
            if text or not data:
                return text

    return read


def run_script(source: str | Callable[[int], str], transport: Transport | None, *, stdin_mode: bool = False,
               verbose: bool = False, dry_run: bool = False, kernel_mode: bool = False, out: TextIO | None = None,
               err: TextIO | None = None, now: Callable[[], float] = time.time, no_action: bool = False,
               pid: int | None = None, hexdump: bool = False, show_all: bool = False,
               withports: bool = False) -> int:
    """Run a setkey script like ``setkey -f`` (or ``-c`` with ``stdin_mode``); the exit status.

    ``source`` is the text, or ``read(n)`` giving it piece by piece (:func:`fd_reader`): each statement is
    applied as soon as it has been read. ``dry_run`` (``-d``): no kernel; each message that would be sent is
    printed as one line of lowercase hex (pid 0). ``no_action`` (``-n``): parse and check only. ``kernel_mode``
    (``-k``): no ``fwd`` copies. ``verbose`` (``-v``): every message sent and its answers, decoded. ``hexdump``
    (``-h``/``-H``): every request as a hex dump before it is sent. ``show_all`` (``-a``): ``dump`` answers
    include dead SAs; ``withports`` (``-p``): ``get``/``dump``/``spddump`` answers show ports, as ``-D -p``.
    ``pid``: the sadb_msg_pid to send (default: this process's, 0 with ``dry_run``). Without a transport and
    without ``dry_run`` the script is only parsed and checked (against the built-in Linux algorithm table).

    Each answer is the kernel's message with the request's pid, type and seq. A request the kernel does not
    answer within a second is reported as setkey does (``recv: ...``) and makes the status 1; a failed
    connection stops the script (status 1) saying how many statements were applied; Ctrl-C stops it with
    status 130 and a closed output (broken pipe) with 141, after saying the line reached.
    """
    read = text_reader(source) if isinstance(source, str) else source
    session = _Session(transport, stdin_mode=stdin_mode, verbose=verbose, dry_run=dry_run,
                       kernel_mode=kernel_mode, no_action=no_action, out=out or sys.stdout,
                       err=err or sys.stderr, now=now, pid=pid, hexdump=hexdump, show_all=show_all,
                       withports=withports)
    try:
        try:
            session.register()
            status = session.run_stdin(read) if stdin_mode else session.run_file(read)
        except _Abort as exc:
            status = exc.status
        session.out.flush()
    except KeyboardInterrupt:
        session.stop(f"interrupted after line {session.done_line()}")
        return 130
    except BrokenPipeError:
        session.stop(f"output closed (broken pipe) after line {session.done_line()}")
        return 141
    if session.unanswered and status == 0:
        n = session.unanswered
        session.err.write(f"{TUI}: {n} request{'' if n == 1 else 's'} got no answer from the kernel "
                          f"within {session.wait:g} s\n")
        return 1
    return status


__all__ = ["fd_reader", "run_script", "text_reader"]
