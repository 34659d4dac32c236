"""Replay the scenarios of tests/data/realkernel.jsonl through our CLI against a kernel, and compare.

A scenario is what the recording did with the real C setkey in a real Linux 6.1: flush both databases, apply a
script (`-f`), then `-D`, `-DP`, `-D -a`, `-D -p`, a raw SADB_DUMP and SADB_X_SPDDUMP, and for some scenarios a
`-x` monitor in a second process while the script was applied.  `replay()` does the same with
`python -m setkey_tui --kernel SPEC`; `mask_text()` and `normalize_replies()` hide what legitimately differs
between two runs (times, pids, ages, kernel-assigned policy indexes and automatic reqids); everything else is
compared exactly.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from setkey_tui.cli import main as cli_main
from setkey_tui.cli import open_kernel
from setkey_tui.pfkey.constants import ExtType, MsgType, SAState
from setkey_tui.pfkey.extensions import LifetimeExt, PolicyExt
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX
from tests.cli.conftest import answers

PROJECT = Path(__file__).resolve().parents[2]
DATA = PROJECT / "tests" / "data" / "realkernel.jsonl"
OUTPUTS = ("D", "DP", "Da", "Dp")
OUTPUT_ARGS = {"D": ["-D"], "DP": ["-D", "-P"], "Da": ["-D", "-a"], "Dp": ["-D", "-p"]}
EXPIRE_WAIT = 60.0  # seconds the expiry scenario may wait for its SA to turn dying (soft lifetime 2 s, hard 60 s)
WAIT = 60.0  # seconds a wait on another process may take on a loaded machine before the test fails
MANUAL_REQID_MAX = 0x3FFF

_DATE = r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}"
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\b(created|current|lastused): {_DATE}"), r"\1: <date>"),
    (re.compile(r"\bdiff: \d+\(s\)"), "diff: <age>(s)"),
    (re.compile(r"\bpid=\d+"), "pid=<pid>"),
    (re.compile(r"^(?:\d\d:\d\d:\d\d|\d{9,})\.\d{6} $", re.M), "<when> "),
    (re.compile(r"\b(addtime|usetime)=\d{9,}"), r"\1=<time>"),
    (re.compile(r"(\n  key=)[^}]*"), r"\1<key> "),
    (re.compile(r"unique#\d+"), "unique#<auto>"),
)
_WHEN = re.compile(r"^(?:\d\d:\d\d:\d\d|\d{9,})\.\d{6} $", re.M)  # the line -x starts each message with
_SPID = re.compile(r"(\bspid=)(\d+)")  # -DP prints the policy index in decimal
_KDEBUG_ID = re.compile(r"(\bdir=\d+ id=)([0-9a-f]+)")  # -x prints it in hex


def _index(base: int) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        return f"{m.group(1)}<index>/dir{int(m.group(2), base) % 8}"

    return repl


def mask_text(text: str) -> str:
    """`text` with times, ages, pids, key bytes of -x, policy indexes (direction kept), auto reqids hidden."""
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return _KDEBUG_ID.sub(_index(16), _SPID.sub(_index(10), text))


def normalize_message(msg: Message) -> Message:
    """A kernel reply without the parts that differ run to run: pid, current-lifetime times, policy index."""
    exts = []
    for ext in msg.extensions:
        if isinstance(ext, LifetimeExt) and ext.ext_type == ExtType.LIFETIME_CURRENT:
            ext = ext._replace(addtime=int(ext.addtime > 0), usetime=int(ext.usetime > 0))
        elif isinstance(ext, PolicyExt):
            requests = tuple(r._replace(reqid=-1) if r.reqid > MANUAL_REQID_MAX else r for r in ext.requests)
            ext = ext._replace(id=ext.id % 8, requests=requests)
        exts.append(ext)
    return msg._replace(pid=0, extensions=tuple(exts))


def normalize_replies(hex_messages: list[str]) -> list[Message]:
    """Decode and normalize a list of hex-encoded kernel replies."""
    return [normalize_message(decode(bytes.fromhex(h), LINUX)) for h in hex_messages]


_HEX_LINE = re.compile(r"^[0-9a-f]{8}: (?:[0-9a-f]{2} )+$")


def normalize_hexdumps(text: str) -> str:
    """Replace each -H hex dump block by one line with the normalized message's hex (see normalize_message)."""
    out: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if not block:
            return
        data = bytes.fromhex("".join(line.split(":", 1)[1] for line in block))
        try:
            out.append(f"<message {normalize_message(decode(data, LINUX)).encode(LINUX).hex()}>\n")
        except ValueError:
            out.extend(block)
        block.clear()

    for line in text.splitlines(keepends=True):
        if _HEX_LINE.match(line.rstrip("\n")):
            block.append(line)
            continue
        flush()
        out.append(line)
    flush()
    return "".join(out)


def load_scenarios() -> list[dict]:
    """Every recorded scenario, in file order."""
    with open(DATA, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass(frozen=True)
class CliResult:
    """What one CLI run printed, and its status."""

    stdout: str
    stderr: str
    rc: int

    def as_dict(self) -> dict:
        """The recorded layout."""
        return {"stdout": self.stdout, "stderr": self.stderr, "rc": self.rc}


def run_cli(argv: list[str]) -> CliResult:
    """Run setkey-tui's main() in this process, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_main(argv)
    return CliResult(out.getvalue(), err.getvalue(), rc)


def _sigint_default() -> None:
    """In a child before exec: SIGINT at its default, so that stopping it with SIGINT works even when the test
    runner was started with SIGINT ignored (a background job of a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT), env.get("PYTHONPATH", "")) if p)
    env.pop("SETKEY_TUI_NOW", None)
    return env


class Monitor:
    """`setkey-tui -x` in a second process; stop() returns what it printed."""

    def __init__(self, spec: str, flags: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "setkey_tui", "--kernel", spec, *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=PROJECT,
            env=_env(),
            preexec_fn=_sigint_default,
        )
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = bytearray()
        self._wait_output(lambda: self.buf.count(b"\n") >= 2, "its first two lines (the X_PROMISC echoes)")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with contextlib.suppress(BlockingIOError, TypeError):
            chunk = self.proc.stdout.read()
            if chunk:
                self.buf += chunk

    def messages(self) -> int:
        """How many messages the monitor has printed so far (each starts with its time on a line of its own)."""
        return count_messages(self.buf.decode(errors="replace"))

    def _wait_output(self, done: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        """Read the monitor's output until ``done()``; fail saying ``what`` when it exits or times out first."""
        deadline = time.monotonic() + timeout
        while True:
            self._read()
            if done():
                return
            if self.proc.poll() is not None or time.monotonic() >= deadline:
                self._read()
                state = f"exited with {self.proc.returncode}" if self.proc.poll() is not None else "still running"
                raise AssertionError(f"the monitor ({state}) did not print {what} within {timeout:g} s; "
                                     f"it printed:\n{self.buf.decode(errors='replace')}")
            time.sleep(0.02)

    def stop(self, expected: int | None = None, quiet: float = 0.4) -> str:
        """Wait until the monitor printed ``expected`` messages (when known) and then nothing new for ``quiet``
        seconds, interrupt it, return its output."""
        if expected is not None:
            self._wait_output(lambda: self.messages() >= expected, f"{expected} messages")
        size, last_change = -1, time.monotonic()
        while time.monotonic() - last_change < quiet:
            self._read()
            if len(self.buf) != size:
                size, last_change = len(self.buf), time.monotonic()
            time.sleep(0.05)
        self.proc.send_signal(signal.SIGINT)
        try:
            rest, errs = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, errs = self.proc.communicate()
        self.buf += rest or b""
        if errs and b"Traceback" in errs:
            raise AssertionError(f"the monitor crashed:\n{errs.decode(errors='replace')}")
        return self.buf.decode(errors="replace")


def count_messages(text: str) -> int:
    """How many messages a `-x` monitor's output holds."""
    return len(_WHEN.findall(text))


def wait_dying(spec: str, timeout: float = EXPIRE_WAIT) -> None:
    """Wait until every SA of the kernel `spec` has passed its soft lifetime (state dying); fail when one has not
    within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        states = [decode(bytes.fromhex(h), LINUX).get(ExtType.SA) for h in raw_dump(spec, MsgType.DUMP)]
        if states and all(sa is not None and sa.state == SAState.DYING for sa in states):
            return
        assert time.monotonic() < deadline, f"the SAs did not turn dying within {timeout:g} s: {states}"
        time.sleep(0.1)


def raw_dump(spec: str, msg_type: int) -> list[str]:
    """The replies of one SADB_DUMP / SADB_X_SPDDUMP, as hex (an ENOENT answer is its one reply)."""
    transport = open_kernel(spec, LINUX)
    try:
        pid = os.getpid()
        transport.send(Message(msg_type, 0, seq=0, pid=pid).encode(LINUX))
        replies: list[str] = []
        while True:
            data = transport.recv(WAIT)
            assert data is not None, f"no reply to {MsgType(msg_type).name} within {WAIT:g} s"
            msg = decode(data, LINUX)
            if msg.type != msg_type or msg.pid != pid:
                continue
            replies.append(data.hex())
            if msg.errno or msg.seq == 0:
                return replies
    finally:
        transport.close()


def _expected(recorded_text: str | None, applied: dict, scenario: dict) -> int | None:
    """How many messages the monitor must show: as many as the recording's when this tool's run of the script
    ended as the C setkey's did (same exit status); else unknown (where this tool refuses what setkey wrapped,
    e.g. ``-r 300``, it sends fewer), and the monitor is stopped after a quiet period."""
    if recorded_text is None or applied.get("rc") != scenario.get("apply", {}).get("rc"):
        return None
    return count_messages(recorded_text)


def replay(scenario: dict, spec: str, *, monitor: bool) -> dict:
    """Run `scenario` against the kernel `spec`; the result has the recorded layout."""
    for flags in (["-F"], ["-F", "-P"]):
        flushed = run_cli(["--kernel", spec, *flags])
        assert flushed.rc == 0, f"flush failed: {flushed}"
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as fh:
        fh.write(scenario["script"])
        script = fh.name
    observed: dict = {}
    apply = ["--kernel", spec, *scenario["args"], "-f", script]
    try:
        recorded = scenario.get("monitor") or {}
        if monitor and recorded.get("xxH") is not None:
            # The recording first applied the script under `-xx -H`, flushed, then applied it again under `-x`.
            watcher = Monitor(spec, ["-xx", "-H"])
            first = run_cli(apply).as_dict()
            observed["monitor"] = {"xxH": watcher.stop(_expected(recorded["xxH"], first, scenario)),
                                   "xxH_apply": first}
            for flags in (["-F"], ["-F", "-P"]):
                run_cli(["--kernel", spec, *flags])
        watcher = Monitor(spec, ["-x"]) if monitor else None
        observed["apply"] = run_cli(apply).as_dict()
        if watcher is not None:
            expected = _expected(recorded.get("x"), observed["apply"], scenario)
            observed.setdefault("monitor", {})["x"] = watcher.stop(expected)
        else:
            observed["monitor"] = None
    finally:
        os.unlink(script)
    if scenario["category"] == "expire":
        wait_dying(spec)
    for key in OUTPUTS:
        observed[key] = run_cli(["--kernel", spec, *OUTPUT_ARGS[key]]).as_dict()
    observed["dump_hex"] = raw_dump(spec, MsgType.DUMP)
    observed["spddump_hex"] = raw_dump(spec, MsgType.X_SPDDUMP)
    return observed


def assert_text_equal(got: str, want: str, label: str) -> None:
    """Masked `got` equals masked `want`; on failure the message is a unified diff (want → got)."""
    got_m, want_m = mask_text(got), mask_text(want)
    if got_m != want_m:
        diff = difflib.unified_diff(
            want_m.splitlines(keepends=True), got_m.splitlines(keepends=True), "expected", "observed", n=2
        )
        shown = "".join(list(diff)[:80])
        raise AssertionError(f"{label} differs (masked):\n{shown}")


def setkey_stderr(text: str) -> str:
    """`text` without the source line + caret pairs we add after a parse error (setkey prints neither)."""
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    for line in lines:
        if line.strip() == "^" and kept:
            kept.pop()
            continue
        kept.append(line)
    return "".join(kept)


def assert_same(observed: dict, expected: dict, *, what: str) -> None:
    """`observed` matches `expected` (masked texts, normalized replies); the message names the part."""
    got, want = observed["apply"], expected["apply"]
    assert (got["rc"], setkey_stderr(got["stderr"])) == (want["rc"], setkey_stderr(want["stderr"])), (
        f"{what}: the apply status differs"
    )
    assert_text_equal(got["stdout"], want["stdout"], f"{what}: the apply output")
    for key in OUTPUTS:
        got, want = observed[key], expected[key]
        assert (got["rc"], got["stderr"]) == (want["rc"], want["stderr"]), (
            f"{what}: setkey {key} status differs"
        )
        assert_text_equal(got["stdout"], want["stdout"], f"{what}: setkey {key} output")
    for key in ("dump_hex", "spddump_hex"):
        got_msgs, want_msgs = normalize_replies(observed[key]), normalize_replies(expected[key])
        assert got_msgs == want_msgs, f"{what}: the {key} replies differ"
    if expected.get("monitor") and observed.get("monitor"):
        assert_text_equal(observed["monitor"]["x"], expected["monitor"]["x"], f"{what}: the -x monitor output")
        if expected["monitor"].get("xxH") is not None:
            got_apply, want_apply = observed["monitor"]["xxH_apply"], expected["monitor"]["xxH_apply"]
            assert (got_apply["rc"], setkey_stderr(got_apply["stderr"])) == (
                want_apply["rc"], setkey_stderr(want_apply["stderr"])
            ), f"{what}: the apply status under -xx -H differs"
            assert_text_equal(got_apply["stdout"], want_apply["stdout"], f"{what}: the apply under -xx -H")
            assert_text_equal(
                normalize_hexdumps(observed["monitor"]["xxH"]),
                normalize_hexdumps(expected["monitor"]["xxH"]),
                f"{what}: the -xx -H monitor output",
            )


@contextlib.contextmanager
def served_sim() -> Iterator[str]:
    """A simulated kernel served by `setkey-tui serve-sim` in another process; yields its --kernel spec."""
    folder = tempfile.mkdtemp(prefix="setkey-sim-")
    path = os.path.join(folder, "kernel.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "setkey_tui", "serve-sim", path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=PROJECT,
        env=_env(),
        preexec_fn=_sigint_default,
    )
    try:
        deadline = time.monotonic() + WAIT
        while not answers(path):  # the file exists from bind(), a connection is refused until listen()
            if proc.poll() is not None or time.monotonic() > deadline:
                errs = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise AssertionError(f"serve-sim did not start: {errs.strip()}")
            time.sleep(0.02)
        yield f"sim@{path}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(folder)
