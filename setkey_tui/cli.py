"""``setkey-tui``: setkey(8)'s command line (ipsec-tools 0.8.2 flags) plus kernel/platform selection.

Operations (the last of -c/-f/-D/-F/-x given wins, as in setkey): ``-D`` dump the SAD (``-P``: the SPD;
``-a`` dead SAs too; ``-p`` ports; ``-l`` short format every second), ``-F`` flush, ``-x`` monitor
(``-xx`` epoch timestamps, ``-h``/``-H`` hex), ``-c``/``-f FILE`` scripts, ``-d`` dry run, ``file ...`` raw
message files. Without an operation, on a terminal, the TUI starts.
"""

from __future__ import annotations

import contextlib
import getopt
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TextIO, cast

from setkey_tui.clock import display_clock
from setkey_tui.files import open_private
from setkey_tui.kernel.base import MessagesLost, Transport, TransportError, reply_timeout
from setkey_tui.kernel.choose import default_spec, open_transport
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import DecodeError, decode, header_only, split
from setkey_tui.pfkey.platform import Platform, by_name, current
from setkey_tui.render.postproc import DumpOptions, postproc

if TYPE_CHECKING:
    import argparse

PROG = "setkey-tui"

def version() -> str:
    """The installed package's version (importlib.metadata), or "unknown" when it is not installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("setkey-tui")
    except PackageNotFoundError:
        return "unknown"


def banner() -> str:
    """setkey's ``@(#)`` line."""
    return f"{PROG} @(#) {PROG} {version()} (setkey of ipsec-tools 0.8.2, re-implemented)"


USAGE = f"""\
usage: {PROG} [-vrk] file ...
       {PROG} [-nvrk] -c
       {PROG} [-nvrk] -f filename
       {PROG} [-vrk] -d [-f filename]
       {PROG} [-Palpvrk] -D
       {PROG} [-Pv] -F
       {PROG} [-h|-H] -x[x] [--record FILE]
       {PROG} [-V] [--help]
       {PROG} serve-sim PATH [--sim-state FILE]
       {PROG} plan|apply [--kernel SPEC] [--format text|json] [--show-keys] [--yes] [--dry-run] FILE|-c
       {PROG} bridge [--kernel SPEC]
       {PROG} [--kernel sim|sim@PATH] traffic SRC DST [--proto NAME|NUM] [--sport N] [--dport N]
                  [--size BYTES] [--count N]
"""

HELP = USAGE + """
operations (the last one given wins):
  -D            dump the SAD (with -P: the SPD)
  -F            flush the SAD (with -P: the SPD)
  -x            monitor every PF_KEY message (promiscuous socket); -xx: epoch timestamps
  -c            read setkey statements from standard input, line by line
  -f FILE       read setkey statements from FILE ('-' = standard input)
  -d            dry run: parse and compile the script (-f FILE, else standard input), print each
                message as hex; no kernel is opened
  file ...      print raw PF_KEY message files as a dump would
modifiers:
  -P            policy (SPD) instead of SAD for -D/-F
  -a            -D: show dead SAs too
  -p            -D/-DP: show ports
  -l            -D: short format, repeated every second until Ctrl-C (exit status 0)
  -h, -H        hex dump of every message sent and, with -x, received
  -v            verbose: decode every message sent and received
  -n            no action: parse and check the script, send nothing
  -k / -r       kernel mode (no automatic fwd policies) / RFC mode (the default)
  -V            print the version and exit (status 1, as setkey)
  --help        this text
subcommands:
  serve-sim PATH    serve a simulated kernel on the Unix socket PATH (--sim-state FILE: a setkey script first)
  plan FILE         what FILE would change in the kernel (+ added, - removed, ~ changed); exit 0 when in sync,
                    2 when something would change, 1 on error (docs/plan.md)
  apply FILE        reach FILE's state with the fewest operations, make-before-break, verified, rolled back
                    on failure (--yes: no question, --dry-run: the operations as setkey statements)
  bridge            relay PF_KEY messages on stdin/stdout for --kernel ssh:HOST from another machine
  traffic SRC DST   send outbound packets through the simulated kernel's SPD and print, one line per packet,
                    the policy and SA each met (and the SA's byte count), or the ACQUIRE a missing SA raised;
                    --proto any|tcp|udp|icmp|icmp6|gre|sctp|NUM (default any), --sport/--dport N (default 0),
                    --size BYTES (default 64), --count N (default 1)
kernel and platform:
  --kernel SPEC     auto | pfkey | xfrm | sim | sim@PATH | replay:FILE | ssh:HOST[/SPEC]
                    (default: $SETKEY_TUI_KERNEL, else auto)
  --platform NAME   linux | freebsd | darwin   (default: this system's)
  --record FILE     with -x: also write every message as 'SECONDS.MICROSECONDS HEX' lines (replay format)
environment:
  SETKEY_TUI_KERNEL   default for --kernel
  SETKEY_TUI_NOW      fix the display clock to SECONDS (reproducible output)
  SETKEY_TUI_SSH      the ssh command for ssh:HOST (default: ssh)
  SETKEY_TUI_REMOTE_COMMAND  the command run on HOST (default: setkey-tui)
  SETKEY_TUI_SSH_TIMEOUT     seconds to wait for the remote bridge's handshake (default: 30)
"""

_SHORTOPTS = "acdf:hHlnvxDFPpVrk"
_LONGOPTS = ["kernel=", "platform=", "record=", "help"]


class UsageError(Exception):
    """Bad command line: print the message and the usage, exit 1."""


@dataclass
class Options:
    """The parsed command line."""

    mode: str | None = None  # script | dump | flush | monitor
    script_file: str | None = None
    stdin_mode: bool = False
    dry_run: bool = False
    policy: bool = False
    all_: bool = False
    withports: bool = False
    loop: bool = False
    hexdump: bool = False
    verbose: bool = False
    notreally: bool = False
    kernel_mode: bool = False
    tflag: int = 0
    version: bool = False
    help: bool = False
    kernel: str = "auto"
    platform: str | None = None
    record: str | None = None
    files: list[str] = field(default_factory=list)


# Flags that set one option to a constant, and options that take the flag's argument.
_SETS: dict[str, tuple[str, object]] = {
    "-a": ("all_", True), "-h": ("hexdump", True), "-H": ("hexdump", True), "-l": ("loop", True),
    "-n": ("notreally", True), "-v": ("verbose", True), "-D": ("mode", "dump"), "-F": ("mode", "flush"),
    "-P": ("policy", True), "-p": ("withports", True), "-V": ("version", True), "-r": ("kernel_mode", False),
    "-k": ("kernel_mode", True), "--help": ("help", True),
}
_VALUES = {"--kernel": "kernel", "--platform": "platform", "--record": "record"}


def parse_args(argv: list[str]) -> Options:
    """setkey's getopt loop; UsageError for unknown flags or missing arguments."""
    try:
        pairs, rest = getopt.getopt(argv, _SHORTOPTS, _LONGOPTS)
    except getopt.GetoptError as exc:
        raise UsageError(str(exc)) from None
    o = Options(kernel=default_spec())
    for flag, value in pairs:
        if flag in _SETS:
            attr, constant = _SETS[flag]
            setattr(o, attr, constant)
        elif flag in _VALUES:
            setattr(o, _VALUES[flag], value)
        elif flag == "-c":
            o.mode, o.stdin_mode, o.script_file = "script", True, None
        elif flag == "-d":
            o.dry_run = True
            if o.mode != "script":
                o.mode, o.stdin_mode = "script", False
        elif flag == "-f":
            o.mode, o.stdin_mode, o.script_file = "script", False, value
        elif flag == "-x":
            o.mode = "monitor"
            o.tflag += 1
    o.files = rest
    if o.record is not None and o.mode != "monitor":
        raise UsageError("--record needs -x")
    return o


def open_kernel(spec: str, platform: Platform) -> Transport:
    """The transport for ``spec`` (TransportError/OSError/ValueError when it cannot be opened)."""
    return open_transport(spec, platform=platform)


class Conversation:
    """setkey's sendkeymsg/postproc loop over one transport, writing what setkey writes (streamed: each entry
    is formatted as its message arrives and written in blocks)."""

    def __init__(self, transport: Transport, opts: Options, platform: Platform, now: Callable[[], float],
                 out: TextIO, err: TextIO) -> None:
        self.t = transport
        self.opts = opts
        self.platform = platform
        self.now = now
        self.out = out
        self.err = err
        self.dump_opts = DumpOptions(all_=opts.all_, withports=opts.withports, short=opts.loop)

    def fail(self, text: str) -> int:
        """Write what was gathered, then one line on stderr; status 1."""
        self.out.flush()
        self.err.write(text + "\n")
        return 1

    def request(self, msg_type: int, satype: int = 0) -> int:
        """Send one header-only request and print its answers as they arrive (until seq 0 or an error).

        The answers are the messages with the request's pid and type; other sockets' broadcasts are skipped.
        The wait is per message (:func:`reply_timeout`: setkey's second on a real socket): when none comes
        in time, or the kernel dropped messages, the status is 1 (an incomplete dump is never an empty
        success)."""
        data = header_only(msg_type, satype, pid=os.getpid() & 0xFFFFFFFF).encode(self.platform)
        out, opts, platform = self.out, self.opts, self.platform
        if opts.verbose:
            from setkey_tui.render.kdebug import kdebug

            out.write(kdebug(data, platform) + "\n")
        if opts.hexdump:
            from setkey_tui.render.hexdump import hexdump

            out.write(hexdump(data))
        t = self.t
        t.send(data)
        pid, dump_opts = data[12:16], self.dump_opts
        order: Literal["little", "big"] = "little" if platform.byteorder == "<" else "big"
        match = not getattr(t, "answers_in_order", False)
        notes_for = getattr(t, "notes_for", None)  # XFRM: what PF_KEY cannot say about an entry
        now, count, wait = int(self.now()), 0, reply_timeout(t)
        while True:
            try:
                reply = t.recv(wait)
            except MessagesLost as exc:
                return self.fail(f"{PROG}: {exc}")
            if reply is None:
                got = f" after {count} entr{'y' if count == 1 else 'ies'}" if count else ""
                return self.fail(f"{PROG}: no answer from the kernel within {wait:g} s{got} "
                                 "(recv: Resource temporarily unavailable)")
            if len(reply) < 16 or int.from_bytes(reply[4:6], order) * 8 != len(reply):
                return self.fail("setkey: invalid keymsg length")
            if match and (reply[12:16] != pid or reply[1] != msg_type):
                continue  # another socket's message
            if opts.verbose:
                from setkey_tui.render.kdebug import kdebug

                out.write(kdebug(reply, platform) + "\n")
            try:
                msg = decode(reply, platform)
            except DecodeError as exc:
                self.out.flush()
                self.err.write(f"{PROG}: cannot show a kernel reply: {exc}\n")
                if reply[2] or int.from_bytes(reply[8:12], order) == 0:
                    return 1
                continue
            count += 1
            if not count & 255:  # the clock, once in a while: a long dump spans seconds
                now = int(self.now())
            text, error = postproc(msg, now=now, options=dump_opts, platform=platform)
            out.write(text)
            if notes_for is not None:
                self._write_notes(notes_for(msg), opts.verbose)
            if error or msg.seq == 0:
                return 0


    def _write_notes(self, notes: object, verbose: bool) -> None:
        """After an entry read over XFRM: a line saying it cannot be expressed in PF_KEY (always), and with
        -v every XFRM attribute PF_KEY lost (AEAD, ESN, marks, …), one ``\txfrm: …`` line each."""
        text = getattr(notes, "text", None)
        if not notes or text is None:
            return
        for line in text():
            if verbose or line.startswith("xfrm: not expressible"):
                self.out.write(f"\t{line}\n")


def _is_exhausted(t: Transport) -> bool:
    return bool(getattr(t, "exhausted", False))


def run_dump(conv: Conversation) -> int:
    """-D / -DP / -D -l."""
    mtype = MsgType.X_SPDDUMP if conv.opts.policy else MsgType.DUMP
    if conv.opts.loop:
        from setkey_tui.render.short import short_header

        conv.out.write(short_header())
        while True:
            status = conv.request(mtype)
            conv.out.flush()
            if status or _is_exhausted(conv.t):
                return status
            time.sleep(1)
    status = conv.request(mtype)
    conv.out.flush()
    return status


def run_flush(conv: Conversation) -> int:
    """-F / -FP."""
    status = conv.request(MsgType.X_SPDFLUSH if conv.opts.policy else MsgType.FLUSH)
    conv.out.flush()
    return status


def run_monitor(conv: Conversation) -> int:
    """-x: promiscuous mode, then every message decoded until interrupted (or a replay ends).

    Messages are read in bursts: the first one waits, the rest of what the socket holds is taken without
    waiting (many per system call where the transport has ``recv_many``), and the burst is written out
    before the next wait, so the last line of a flood is out as soon
    as the flood ends. During a flood the next burst is read after a short pause (:data:`COALESCE`): a
    monitor that reads each message as it comes pays a system call or two per message and falls behind.
    A loss (the kernel dropped messages) is said at its place and the monitor goes on."""
    rec: TextIO | None = None
    if conv.opts.record is not None:
        try:  # the messages carry keys: owner-only, also when the file existed
            rec = open_private(conv.opts.record, encoding="ascii")
        except OSError as exc:
            conv.err.write(f"{PROG}: cannot write {conv.opts.record}: {exc.strerror}\n")
            return 1
    from setkey_tui.kernel.replay import format_record
    from setkey_tui.render.monitor import format_monitor_entries, format_monitor_entry

    t, out, platform = conv.t, conv.out, conv.platform
    tflag, hexdump_ = conv.opts.tflag, conv.opts.hexdump
    replayed = hasattr(t, "last_time")
    recv_many = None if replayed else getattr(t, "recv_many", None)
    full = getattr(t, "batch_size", 1)  # messages recv_many takes at most in one call
    pause = False
    try:
        t.set_promisc(True)
        while True:
            if _is_exhausted(t):
                out.flush()
                return 0
            try:
                if recv_many is not None:  # many messages per system call (recvmmsg)
                    batch = recv_many(None)
                    when = conv.now()  # one clock read per burst: its messages arrived together
                    taken = 0
                    while batch:
                        if rec is not None:
                            rec.write("".join(format_record(data, when) for data in batch))
                        out.write(format_monitor_entries(batch, when=when, tflag=tflag, hexdump=hexdump_,
                                                         platform=platform))
                        taken += len(batch)
                        if taken >= BURST or len(batch) < full:  # full: the socket may hold more
                            break
                        batch = recv_many(0)
                    pause = taken > 1  # a flood: let the next messages gather, to take them in one call
                else:
                    data = t.recv(None)
                    if data is None:
                        continue
                    when = conv.now()
                    for _ in range(BURST):
                        if replayed and t.last_time is not None:  # type: ignore[attr-defined]
                            when = t.last_time  # type: ignore[attr-defined]
                        if rec is not None:
                            rec.write(format_record(data, when))
                        out.write(format_monitor_entry(data, when=when, tflag=tflag, hexdump=hexdump_,
                                                       platform=platform))
                        data = t.recv(0)
                        if data is None:
                            break
            except MessagesLost as exc:
                out.flush()
                conv.err.write(f"{PROG}: {exc}\n")
                conv.err.flush()
            if rec is not None:
                rec.flush()
            out.flush()
            if pause:
                pause = False
                time.sleep(COALESCE)
    finally:
        if rec is not None:
            rec.close()


BURST = 4096  # messages at most between two writes of the monitor
COALESCE = 0.004  # seconds the monitor lets a flood's messages gather between two bursts


def run_files(opts: Options, platform: Platform, now: Callable[[], float], out: TextIO, err: TextIO) -> int:
    """``setkey file ...``: raw PF_KEY messages from files, printed as their replies would be (no kernel)."""
    dump_opts = DumpOptions(all_=opts.all_, withports=opts.withports, short=opts.loop)
    for name in opts.files:
        try:
            with open(name, "rb") as fh:
                buf = fh.read()
        except OSError as exc:
            err.write(f"{PROG}: {name}: {exc.strerror}\n")
            return 1
        try:
            messages = list(split(buf))
        except DecodeError as exc:
            err.write(f"{PROG}: {name}: {exc}\n")
            return 1
        for data in messages:
            try:
                msg = decode(data, platform)
            except DecodeError as exc:
                err.write(f"{PROG}: {name}: {exc}\n")
                continue
            text, _ = postproc(msg, now=int(now()), options=dump_opts, platform=platform)
            out.write(text)
    return 0


def run_script_mode(opts: Options, platform: Platform, now: Callable[[], float], out: TextIO,
                    err: TextIO) -> int:
    """-c / -f FILE / -d: the language's run_script, fed as the input arrives (statement by statement)."""
    from setkey_tui.script import fd_reader, run_script

    fd: int | None = None
    if opts.script_file is None or opts.script_file == "-":
        read = fd_reader(sys.stdin.fileno())
    else:
        try:
            fd = os.open(opts.script_file, os.O_RDONLY)
        except OSError as exc:
            err.write(f"{PROG}: cannot open {opts.script_file}: {exc.strerror}\n")
            return 1
        read = fd_reader(fd)
    transport = None
    try:
        if not opts.dry_run:
            transport = _open_or_report(opts, platform, err)
            if transport is None:
                return 1
        return run_script(read, transport, stdin_mode=opts.stdin_mode, verbose=opts.verbose,
                          dry_run=opts.dry_run, kernel_mode=opts.kernel_mode, out=out, err=err, now=now,
                          no_action=opts.notreally, hexdump=opts.hexdump, show_all=opts.all_,
                          withports=opts.withports)
    except OSError as exc:  # reading the script failed (EIO from a vanished terminal, EISDIR ...)
        err.write(f"{PROG}: cannot read {opts.script_file or 'standard input'}: {exc.strerror}\n")
        return 1
    finally:
        if transport is not None:
            transport.close()
        if fd is not None:
            os.close(fd)


def _open_or_report(opts: Options, platform: Platform, err: TextIO) -> Transport | None:
    try:
        t = open_kernel(opts.kernel, platform)
    except (TransportError, OSError, ValueError) as exc:
        err.write(f"{PROG}: cannot open kernel '{opts.kernel}': {exc}\n")
        return None
    if _kernel_was_guessed(opts.kernel) and not t.description.endswith("real PF_KEY"):
        err.write(f"{PROG}: using the {t.description}\n")
    if t.platform is not platform:
        err.write(f"{PROG}: the {t.description} speaks the {t.platform.name} PF_KEY dialect, "
                  f"not {platform.name}: using {t.platform.name}\n")
    return t


def _kernel_was_guessed(spec: str) -> bool:
    """Whether ``auto`` chose the kernel (here, or on the far side of ``ssh:HOST``): then one stderr line says
    which kernel it is when that is not the real PF_KEY a setkey user expects."""
    if spec.startswith("ssh:"):
        remote = spec[4:].partition("/")[2]
        return remote in ("", "auto")
    return spec == "auto"


def serve_sim(ns: argparse.Namespace, err: TextIO) -> int:
    """``serve-sim PATH [--sim-state FILE]``: run the simulated kernel on a Unix socket."""
    from setkey_tui.kernel.choose import check_socket_path

    try:
        check_socket_path(ns.path)
    except TransportError as exc:
        err.write(f"{PROG}: serve-sim: {exc}\n")
        return 1
    from setkey_tui.kernel.sim.server import serve

    try:
        serve(ns.path, state_file=ns.sim_state, log=err)
    except KeyboardInterrupt:
        return 0
    except (OSError, TransportError, ValueError) as exc:
        err.write(f"{PROG}: serve-sim: {exc}\n")
        return 1
    return 0


SUBCOMMANDS = ("serve-sim", "traffic")
_GLOBAL_OPTIONS = ("--kernel", "--platform")


def subcommand_at(args: list[str]) -> int | None:
    """Where a subcommand starts when only --kernel/--platform options come before it, else None."""
    i = 0
    while i < len(args):
        a = args[i]
        if a in SUBCOMMANDS:
            return i
        if a in _GLOBAL_OPTIONS:
            i += 2
        elif a.startswith(tuple(f"{o}=" for o in _GLOBAL_OPTIONS)):
            i += 1
        else:
            return None
    return None


_SERVE_USAGE = f"usage: {PROG} serve-sim PATH [--sim-state FILE]"


def run_subcommand(args: list[str], at: int, out: TextIO, err: TextIO) -> int:
    """``serve-sim`` or ``traffic`` (at ``args[at]``; argparse); a bad line is one line on stderr (and, for
    serve-sim, its usage) and status 1."""
    from setkey_tui.subcommands import SubcommandError, parse

    try:
        ns = parse(args)
    except SubcommandError as exc:
        err.write(f"{PROG}: {args[at]}: {exc}\n")
        if args[at] == "serve-sim":
            err.write(_SERVE_USAGE + "\n")
        return 1
    if ns.command == "serve-sim":
        return serve_sim(ns, err)
    return run_traffic(ns, out, err)


def run_traffic(o: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``traffic SRC DST ...`` (``o.packet`` sent ``o.count`` times, see :meth:`KeyService.trace`): one line
    per packet on stdout, status 0; one line on stderr and status 1 for a kernel that is not the simulated
    one or that fails."""
    from setkey_tui.packet import PacketError
    from setkey_tui.render.traffic import describe_traffic
    from setkey_tui.service import KernelReplyError, KeyService, TrafficUnavailable

    kernel = o.kernel or default_spec()
    try:
        platform = by_name(o.platform) if o.platform else current()
    except ValueError as exc:
        err.write(f"{PROG}: traffic: {exc}\n")
        return 1
    try:
        transport = open_kernel(kernel, platform)
    except (TransportError, OSError, ValueError) as exc:
        err.write(f"{PROG}: cannot open kernel '{kernel}': {exc}\n")
        return 1
    service = KeyService(transport)
    try:
        results = service.trace(o.packet, o.count)
        if kernel == "auto":
            err.write(f"{PROG}: using the {service.description}\n")
        for result in results:
            out.write(describe_traffic(result) + "\n")
        out.flush()
        return 0
    except TrafficUnavailable as exc:
        err.write(f"{PROG}: {exc}\n")
        return 1
    except (PacketError, TransportError, KernelReplyError, OSError) as exc:
        out.flush()
        err.write(f"{PROG}: traffic: {exc}\n")
        return 1
    finally:
        service.close()


def _start_tui(opts: Options, platform: Platform, err: TextIO) -> int:
    try:
        from setkey_tui.tui.app import run
    except ImportError as exc:
        err.write(f"{PROG}: the TUI is not available: {exc}\n")
        return 1
    return run(opts.kernel, platform)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (setkey's: 0, or 1 for usage/open/parse failures)."""
    args = sys.argv[1:] if argv is None else list(argv)
    out, err = sys.stdout, sys.stderr
    try:
        status = _main(args, out, err)
    except KeyboardInterrupt:  # as a C program killed by SIGINT
        status = 130
    except BrokenPipeError:  # as a C program killed by SIGPIPE
        status = 141
    if status == 141:  # nothing more can reach the reader: no second error when Python flushes at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return status


def _main(args: list[str], out: TextIO, err: TextIO) -> int:
    if args and args[0] in ("plan", "apply"):
        from setkey_tui.plan.cli import main as plan_main

        return plan_main(args, out, err, sys.stdin)
    if args and args[0] == "bridge":
        from setkey_tui.kernel.remote.bridge import main as bridge_main

        return bridge_main(args[1:], sys.stdin.buffer, sys.stdout.buffer, err)
    at = subcommand_at(args)
    if at is not None:
        return run_subcommand(args, at, out, err)
    try:
        opts = parse_args(args)
    except UsageError as exc:
        err.write(f"{PROG}: {exc}\n")
        out.write(banner() + "\n" + USAGE)
        return 1
    if opts.help:
        out.write(banner() + "\n" + HELP)
        return 0
    if opts.version:
        out.write(banner() + "\n")
        return 1
    try:
        platform = by_name(opts.platform) if opts.platform else current()
        now = display_clock()
    except ValueError as exc:
        err.write(f"{PROG}: {exc}\n")
        return 1
    if opts.mode == "script":
        return run_script_mode(opts, platform, now, out, err)
    if opts.mode is None and not opts.files:
        if sys.stdin.isatty() and sys.stdout.isatty():
            return _start_tui(opts, platform, err)
        out.write(banner() + "\n" + USAGE)
        return 1
    if opts.mode is None:
        return run_files(opts, platform, now, out, err)
    transport = _open_or_report(opts, platform, err)
    if transport is None:
        return 1
    from setkey_tui.blockwriter import BlockWriter

    stream = BlockWriter(out)
    conv = Conversation(transport, opts, transport.platform, now, cast(TextIO, stream), err)
    try:
        if opts.mode == "dump":
            return run_dump(conv)
        if opts.mode == "flush":
            return run_flush(conv)
        return run_monitor(conv)
    except TransportError as exc:
        stream.flush()
        err.write(f"{PROG}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):
            stream.flush()  # what was read before Ctrl-C is shown
        raise
    finally:
        transport.close()
