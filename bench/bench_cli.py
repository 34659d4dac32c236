"""The command line at the kernel's pace: startup, ``-D``, ``-x`` and ``-f`` as a user runs them.

On the served simulated kernel (always) and, with ``--uml`` (or ``BENCH_CLI_UML=1`` under bench/run.py), inside a
user-mode-linux kernel on the real PF_KEY, it prints (``--uml-only``: the real kernel only):

- startup: ``python -c pass`` beside a one-statement ``-f``, a one-statement ``-c`` and ``-D`` of an empty SAD;
- ``-D`` wall time and peak RSS at 2k, 10k, 20k and 100k SAs (``BENCH_CLI_BIG`` sets the largest);
- ``-x`` lag: how long after the last message its line is printed, for a burst at ~10k messages/s and for a
  flood of 20k ``add``s sent by a plain loop as fast as the kernel takes them;
- ``-f`` of N ``add`` statements (``BENCH_CLI_N``, default 100k) beside a plain loop that sends the same
  pre-encoded messages and reads each reply, on the same kernel in the same run (ratio);
- ``strace -c``: system calls per entry of ``-D`` and per statement of ``-f`` (when strace is installed).

``BENCH_CLI_ONLY`` (e.g. ``startup,monitor,script``) runs only those parts (``startup``, ``dump``, ``monitor``,
``script``).

Every figure comes from running ``python -m setkey_tui`` as a separate process, as a user would.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from setkey_tui.kernel.base import Transport
from setkey_tui.pfkey.constants import EncAlg, ExtType, Mode, MsgType, SAType
from setkey_tui.pfkey.extensions import AddressExt, KeyExt, SA2Ext, SAExt, Sockaddr
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
ENV.pop("SETKEY_TUI_KERNEL", None)
SMALL = 10_000
BIG = int(os.environ.get("BENCH_CLI_BIG", "100000"))
SCRIPT_N = int(os.environ.get("BENCH_CLI_N", "100000"))
BURST_RATE = 10_000  # messages/s seen by the monitor (per add: the request's copy and the answer, twice on Linux)
BURST_SECONDS = 2.0
KEY = "00112233445566778899aabbccddeeff"


def sa_ends(i: int) -> tuple[str, str]:
    """Source and destination of SA number ``i``."""
    return "10.1.0.1", str(ipaddress.IPv4Address("10.64.0.0") + i)


def add_message(i: int, pid: int) -> bytes:
    """The ADD of SA ``i`` as ``setkey -f`` sends it for :func:`add_statement`."""
    src, dst = sa_ends(i)
    exts = (
        SAExt(0x1000 + i, 0, 1, 0, EncAlg.AESCBC),
        SA2Ext(Mode.ANY),
        AddressExt(ExtType.ADDRESS_SRC, Sockaddr(2, 0, ipaddress.IPv4Address(src).packed), 255, 32),
        AddressExt(ExtType.ADDRESS_DST, Sockaddr(2, 0, ipaddress.IPv4Address(dst).packed), 255, 32),
        KeyExt(ExtType.KEY_ENCRYPT, 128, bytes.fromhex(KEY)),
    )
    return Message(MsgType.ADD, SAType.ESP, 0, pid, 0, exts).encode(LINUX)


def add_statement(i: int) -> str:
    src, dst = sa_ends(i)
    return f"add {src} {dst} esp {0x1000 + i:#x} -E aes-cbc 0x{KEY};\n"


def cli(spec: str, *args: str) -> list[str]:
    return [PY, "-m", "setkey_tui", "--kernel", spec, *args]


class Kernel:
    """One kernel the benchmark talks to: its ``--kernel`` spec and a way to open a raw socket on it."""

    def __init__(self, name: str, spec: str, open_raw: Callable[[], Transport]) -> None:
        self.name, self.spec, self.open_raw = name, spec, open_raw

    def plain_loop(self, messages: list[bytes]) -> float:
        """Send each pre-encoded message and read its answer; seconds taken."""
        t = self.open_raw()
        pid = os.getpid().to_bytes(4, "little")
        try:
            start = time.perf_counter()
            for data in messages:
                t.send(data)
                while True:
                    reply = t.recv(5.0)
                    if reply is None:
                        raise RuntimeError("the kernel did not answer")
                    if reply[1] == data[1] and reply[12:16] == pid:
                        break
            return time.perf_counter() - start
        finally:
            t.close()

    def flush(self, flag: str = "-F") -> None:
        r = subprocess.run(cli(self.spec, flag), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode:
            raise RuntimeError(f"-F failed: {r.stderr.strip()}")

    def load(self, n: int) -> None:
        """A SAD of exactly ``n`` SAs, loaded by the plain loop."""
        self.flush()
        pid = os.getpid()
        self.plain_loop([add_message(i, pid) for i in range(n)])


def timed(cmd: list[str], *, stdin: str | None = None, runs: int = 5) -> float:
    """Median wall seconds of ``cmd``."""
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, input=stdin, text=True, env=ENV, stdout=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - start)
    return statistics.median(out)


def time_and_rss(cmd: list[str]) -> tuple[float, float] | str:
    """Wall seconds and peak RSS (MiB) of one run of ``cmd`` (by /usr/bin/time), or what it said when it
    failed."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as fh:
        r = subprocess.run(["/usr/bin/time", "-o", fh.name, "-f", "%e %M", *cmd], env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode:
            return f"failed (status {r.returncode}): {r.stderr.strip()}"
        wall, rss = fh.read().split()[-2:]
    return float(wall), int(rss) / 1024


def strace_calls(cmd: list[str], stdin: str | None = None) -> dict[str, int]:
    """System call counts of ``cmd`` (strace -f -c)."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as fh:
        subprocess.run(["strace", "-f", "-c", "-o", fh.name, *cmd], input=stdin, text=True, env=ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        counts: dict[str, int] = {}
        for line in fh.read().splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[-1].isidentifier() and parts[3].isdigit():
                counts[parts[-1]] = int(parts[3])
    return counts


def bench_startup(k: Kernel, tmp: Path) -> None:
    one = tmp / "one.conf"
    one.write_text(add_statement(999_999))
    k.flush()
    base = timed([PY, "-c", "pass"])
    f = timed(cli(k.spec, "-f", str(one)))
    c = timed(cli(k.spec, "-c"), stdin=add_statement(999_998))
    k.flush()
    d = timed(cli(k.spec, "-D"))
    print(f"  startup: python -c pass {base * 1000:6.1f} ms | -f one statement {f * 1000:6.1f} ms "
          f"({f / base:.1f}x) | -c one statement {c * 1000:6.1f} ms | -D empty SAD {d * 1000:6.1f} ms "
          "(targets 120 / 80 ms)")


def bench_dump(k: Kernel) -> None:
    for n in sorted({2_000, SMALL, 20_000, BIG}):  # the pairs: 2k vs 20k, 10k vs 100k
        k.load(n)
        got = time_and_rss(cli(k.spec, "-D"))
        if isinstance(got, str):
            print(f"  -D of {n:>6} SAs: {got}")
        else:
            print(f"  -D of {n:>6} SAs: {got[0]:6.2f} s, peak RSS {got[1]:5.1f} MiB")
    if shutil.which("strace"):
        k.load(SMALL)
        calls = strace_calls(cli(k.spec, "-D"))
        print("  -D strace per SA: " + _per(calls, SMALL))


def _per(calls: dict[str, int], n: int) -> str:
    names = ("write", "poll", "recvfrom", "recvmsg", "read", "sendto", "sendmsg", "clock_gettime")
    return ", ".join(f"{name} {calls.get(name, 0) / n:.3f}" for name in names if calls.get(name))


def spdadd_statement(i: int) -> str:
    src, dst = sa_ends(i)
    return f"spdadd {src} {dst} any -P out ipsec esp/transport//require;\n"


def encoded(statements: list[str], pid: int) -> list[bytes]:
    """The messages ``setkey -f`` sends for ``statements``, made before the clock starts (the plain loop's
    input: the loop itself only sends and reads)."""
    from setkey_tui.lang.compile import compile_statement
    from setkey_tui.lang.grammar import build
    from setkey_tui.lang.lexer import Scanner
    from setkey_tui.pfkey.message import encode

    out = []
    for text in statements:
        stmt = build(Scanner(text).statement(), text)
        out.extend(encode(m, LINUX, pid=pid) for m in compile_statement(stmt, platform=LINUX))
    return out


def bench_script(k: Kernel, tmp: Path) -> None:
    """``-f`` of SCRIPT_N statements beside the plain loop sending the same messages, for ``add`` and
    ``spdadd`` (medians of RUNS, each ratio of one run's pair)."""
    pid = os.getpid()
    for word, make, flush in (("add", add_statement, "-F"), ("spdadd", spdadd_statement, "-FP")):
        statements = [make(i) for i in range(SCRIPT_N)]
        script = tmp / f"{word}.conf"
        script.write_text("".join(statements))
        messages = encoded(statements, pid)
        ours_runs, plain_runs, ratios = [], [], []
        for _ in range(RUNS):
            k.flush(flush)
            start = time.perf_counter()
            r = subprocess.run(cli(k.spec, "-f", str(script)), env=ENV, capture_output=True, text=True)
            ours = time.perf_counter() - start
            if r.returncode or r.stdout or r.stderr:
                print(f"  -f failed: {r.returncode} {r.stdout[:200]} {r.stderr[:200]}")
                return
            k.flush(flush)
            plain = k.plain_loop(messages)
            ours_runs.append(ours)
            plain_runs.append(plain)
            ratios.append(ours / plain)
        print(f"  -f {SCRIPT_N} {word}s: {statistics.median(ours_runs):6.2f} s (process, startup included) | "
              f"plain pre-encoded send/recv loop {statistics.median(plain_runs):6.2f} s | ratio "
              f"{', '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.2f}; target <= 1.5)")
        k.flush(flush)
        if shutil.which("strace"):
            n = min(SCRIPT_N, 10_000)
            small = tmp / f"{word}-small.conf"
            small.write_text("".join(statements[:n]))
            calls = strace_calls(cli(k.spec, "-f", str(small)))
            print(f"  -f strace per {word}: " + _per(calls, n))
            k.flush(flush)


class MonitorWatch:
    """A ``-x`` process writing to a file, and a sampler that notes when the file grew (one ``fstat`` every
    few milliseconds): when a line was printed is the first sample at which the file held it. Nothing reads
    the monitor's output while it runs, so the measure cannot slow it down (a pipe read by this process
    would: the reader shares the CPU with the sending loop)."""

    def __init__(self, k: Kernel, folder: Path) -> None:
        self.path = folder / "monitor.out"
        self.fh = open(self.path, "wb")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(cli(k.spec, "-x"), env=ENV, stdout=self.fh)
        self.samples: list[tuple[float, int]] = [(time.perf_counter(), 0)]
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        fd, last = self.fh.fileno(), 0
        while self.running:
            size = os.fstat(fd).st_size
            if size != last:
                self.samples.append((time.perf_counter(), size))
                last = size
            time.sleep(SAMPLE)

    def text(self) -> bytes:
        return self.path.read_bytes()

    def quiet(self, seconds: float, timeout: float) -> None:
        """Wait until the output did not grow for ``seconds``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.perf_counter() - self.samples[-1][0] < seconds:
            time.sleep(0.05)

    def printed_at(self, token: bytes, copies: int) -> float | None:
        """When the entry holding the ``copies``-th occurrence of ``token`` was whole in the file."""
        text = self.text()
        at = -1
        for _ in range(copies):
            at = text.find(token, at + 1)
            if at < 0:
                return None
        end = text.find(b"\n\n", at)
        need = len(text) if end < 0 else end + 2
        return next((t for t, size in self.samples if size >= need), None)

    def stop(self) -> None:
        self.running = False
        self.proc.terminate()
        self.proc.wait(10)
        self.thread.join(5)
        self.fh.close()


SAMPLE = 0.002  # seconds between two looks at the monitor's output file


def _send_adds(k: Kernel, messages: list[bytes], rate: float | None) -> tuple[float, float]:
    """Send each ADD and read its answer (at ``rate`` adds/s, or as fast as the kernel takes them): (start,
    end) of the loop by perf_counter."""
    t = k.open_raw()
    pid = os.getpid().to_bytes(4, "little")
    per = 0.0 if rate is None else 1.0 / rate
    start = time.perf_counter()
    for i, data in enumerate(messages):
        t.send(data)
        while True:
            reply = t.recv(5.0)
            if reply is None or (reply[12:16] == pid and reply[1] == data[1]):
                break
        if per:
            ahead = start + (i + 1) * per - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    end = time.perf_counter()
    t.close()
    return start, end


def monitor_lag(k: Kernel, adds: int | None, msg_rate: float | None, first: int,
                folder: Path) -> tuple[float, float, int, int]:
    """Seconds from the last message of a run of ADDs to the last line of ``-x`` showing it, the rate of
    messages the monitor saw, the messages per add it printed and the adds sent. ``msg_rate`` paces the ADDs
    (messages/s on the monitor, for BURST_SECONDS; ``adds`` None), else ``adds`` ADDs go as fast as the
    kernel takes them (a flood)."""
    k.flush()
    time.sleep(SETTLE)  # the kernel frees a flushed SAD in the background: not during the measure
    mon = MonitorWatch(k, folder)
    try:
        pid = os.getpid()
        for w in range(1, 100):  # the monitor is listening once it shows one of these
            k.plain_loop([add_message(first - w, pid)])
            time.sleep(0.3)
            if f"spi={0x1000 + first - w} ".encode() in mon.text():
                break
        else:
            raise RuntimeError("-x showed nothing")
        warm = f"spi={0x1000 + first - 100} ".encode()
        k.plain_loop([add_message(first - 100, pid)])
        mon.quiet(0.5, 20)
        per_add = mon.text().count(warm)  # the request's copy, the answer (twice on Linux: promiscuous + all)
        rate = None if msg_rate is None else msg_rate / per_add
        if adds is None:
            adds = int((msg_rate or 0) * BURST_SECONDS / per_add)
        messages = [add_message(first + i, pid) for i in range(adds)]
        start, end = _send_adds(k, messages, rate)
        mon.quiet(1.0, 120)
        printed = mon.printed_at(f"spi={0x1000 + first + adds - 1} ".encode(), per_add)
        seen_rate = per_add * adds / (end - start)
        if printed is None:
            return float("inf"), seen_rate, per_add, adds
        return max(0.0, printed - end), seen_rate, per_add, adds
    finally:
        mon.stop()


FLOOD_ADDS = 20_000
SETTLE = float(os.environ.get("BENCH_CLI_SETTLE", "3"))


def bench_monitor(k: Kernel, tmp: Path) -> None:
    """``-x`` lag after a paced burst (BURST_RATE messages/s) and after a flood of FLOOD_ADDS ADDs."""
    for label, count, rate in (("burst", None, float(BURST_RATE)), ("flood", FLOOD_ADDS, None)):
        lags, rates = [], []
        for run in range(RUNS):
            lag, mrate, per_add, adds = monitor_lag(k, count, rate, 1_000_000 + run * 100_000, tmp)
            lags.append(lag)
            rates.append(mrate)
        print(f"  -x {label}: {adds} adds ({adds * per_add} messages, {per_add} per add) at "
              f"{statistics.median(rates):,.0f} msg/s; last line out "
              f"{', '.join(f'{x * 1000:.0f}' for x in lags)} ms after the last message "
              f"(median {statistics.median(lags) * 1000:.0f} ms; target <= 500 ms)")


RUNS = int(os.environ.get("BENCH_CLI_RUNS", "3"))


ONLY = {p for p in os.environ.get("BENCH_CLI_ONLY", "").split(",") if p}


def run_all(k: Kernel) -> None:
    print(f"{k.name}:")
    with tempfile.TemporaryDirectory(prefix="bcli") as d:
        tmp = Path(d)
        if not ONLY or "startup" in ONLY:
            bench_startup(k, tmp)
        if not ONLY or "dump" in ONLY:
            bench_dump(k)
        if not ONLY or "monitor" in ONLY:
            bench_monitor(k, tmp)
        if not ONLY or "script" in ONLY:
            bench_script(k, tmp)


def served_kernel() -> tuple[Kernel, subprocess.Popen[bytes], str]:
    from setkey_tui.kernel.sim.client import SimClient

    folder = tempfile.mkdtemp(prefix="bsk")
    path = os.path.join(folder, "k.sock")
    proc = subprocess.Popen([PY, "-m", "setkey_tui", "serve-sim", path], env=ENV, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("serve-sim did not start")
        time.sleep(0.02)
    return Kernel("served simulated kernel", f"sim@{path}", lambda: SimClient(path)), proc, folder


def real_kernel() -> Kernel:
    from setkey_tui.kernel.pfkey_socket import PFKeySocket

    return Kernel("real PF_KEY (user-mode-linux)", "pfkey", lambda: PFKeySocket())


def run_in_uml() -> None:
    sys.path.insert(0, str(ROOT / "tests" / "kernel" / "uml"))
    from uml_boot import UmlError, find_uml
    from uml_boot import run_in_uml as boot

    uml = find_uml()
    if uml is None:
        print("real PF_KEY: skipped (no user-mode-linux; apt-get install user-mode-linux busybox-static kmod)")
        return
    only = ",".join(sorted(ONLY))
    command = (f"cd {ROOT} && BENCH_CLI_N={SCRIPT_N} BENCH_CLI_BIG={BIG} BENCH_CLI_ONLY={only} BENCH_CLI_RUNS={RUNS} {PY} "
               "bench/bench_cli.py --inside")
    try:
        boot(command, uml=uml, timeout=1800, mem="1024M", echo_stdout=lambda b: sys.stdout.write(b.decode()))
    except UmlError as exc:
        print(f"real PF_KEY: the user-mode-linux run failed: {exc}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--inside" in args:
        run_all(real_kernel())
        return 0
    if "--uml-only" in args:
        run_in_uml()
        return 0
    k, proc, folder = served_kernel()
    try:
        run_all(k)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    if "--uml" in args or os.environ.get("BENCH_CLI_UML") == "1":
        run_in_uml()
    return 0


if __name__ == "__main__":
    sys.exit(main())
