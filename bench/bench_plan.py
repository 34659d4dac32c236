"""Plan and apply of a 10k-entry setkey file against a kernel holding 10k entries, 1% of them changed.

On a simulated kernel served by ``setkey-tui serve-sim`` (another process, as a user would share it), through
the command line a user types: ``plan FILE``, ``apply --yes FILE``, and beside them ``-F; -FP; -f FILE`` of the
same file in the same run. Prints the wall time and the number of kernel write operations of each, and the
ratios. ``BENCH_PLAN_ENTRIES`` sets the size (default 10000: 6000 SAs and 4000 policies).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "0x00112233445566778899aabbccddeeff"
NEWKEY = "0xffeeddccbbaa99887766554433221100"
AKEY = "0x" + "5a" * 32


def _ip(base: int, i: int) -> str:
    n = base + i
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def write_files(folder: str, entries: int) -> tuple[str, str, int]:
    """The file the kernel holds, and the same with 1% of its entries changed (new keys, rekeyed to a new SPI,
    policies given a priority); and how many entries changed."""
    n_sa = entries * 6 // 10
    n_sp = entries - n_sa
    old, new = ["flush;\n", "spdflush;\n"], ["flush;\n", "spdflush;\n"]
    changed = 0
    for i in range(n_sa):
        src, dst = _ip(0x010000, i), _ip(0x200000, i)
        line = f"add {src} {dst} esp 0x{0x1000 + i:x} -m tunnel -E aes-cbc {KEY} -A hmac-sha256 {AKEY};\n"
        old.append(line)
        if i % 200 == 0:  # a new key, same SPI
            line = line.replace(f"aes-cbc {KEY}", f"aes-cbc {NEWKEY}")
            changed += 1
        elif i % 200 == 1:  # rekeyed: a new SPI replaces the old one
            line = line.replace(f"0x{0x1000 + i:x}", f"0x{0x900000 + i:x}")
            changed += 1
        new.append(line)
    for i in range(n_sp):
        src, dst = _ip(0x400000, i), _ip(0x600000, i)
        line = f"spdadd {src} {dst} any -P out ipsec esp/tunnel/{src}-{dst}/require;\n"
        old.append(line)
        if i % 100 == 0:
            line = line.replace("-P out ipsec", "-P out prio 100 ipsec")
            changed += 1
        new.append(line)
    paths = []
    for name, lines in (("held.conf", old), ("wanted.conf", new)):
        path = os.path.join(folder, name)
        Path(path).write_text("".join(lines))
        paths.append(path)
    return paths[0], paths[1], changed


def _cli(args: list[str], *, plan: bool = False) -> tuple[float, subprocess.CompletedProcess[str]]:
    module = "setkey_tui.plan" if plan else "setkey_tui"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=1800)
    return time.perf_counter() - t0, proc


def main() -> None:
    entries = int(os.environ.get("BENCH_PLAN_ENTRIES", "10000"))
    folder = tempfile.mkdtemp(prefix="bench-plan-")
    sock = os.path.join(folder, "kernel.sock")
    held, wanted, changed = write_files(folder, entries)
    server = subprocess.Popen([sys.executable, "-m", "setkey_tui", "serve-sim", sock], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("serve-sim did not start")
            time.sleep(0.05)
        kernel = ["--kernel", f"sim@{sock}"]

        def load_held() -> None:
            _, proc = _cli(["-f", held, *kernel])
            assert proc.returncode == 0 and not proc.stdout, proc.stdout + proc.stderr

        load_held()
        t_plan, proc = _cli(["plan", wanted, *kernel], plan=True)
        assert proc.returncode == 2, proc.stderr
        summary = next(line for line in proc.stdout.splitlines() if line.startswith("Plan for"))
        t_apply, proc = _cli(["apply", "--yes", wanted, *kernel], plan=True)
        assert proc.returncode == 0, proc.stderr
        match = re.search(r"Applied: (\d+) operation", proc.stdout)
        assert match, proc.stdout
        ops = int(match.group(1))
        t_check, proc = _cli(["plan", wanted, *kernel], plan=True)
        assert proc.returncode == 0, proc.stdout  # converged: nothing left to do

        load_held()
        t0 = time.perf_counter()
        for args in (["-F"], ["-FP"], ["-f", wanted]):
            _, proc = _cli([*args, *kernel])
            assert proc.returncode == 0, proc.stderr
        t_replay = time.perf_counter() - t0
        statements = sum(1 for line in Path(wanted).read_text().splitlines() if line.strip())
        replay_ops = 2 + statements  # -F, -FP, then every statement of the file (its own flushes included)

        print(f"kernel: served simulated kernel; file of {entries} entries, {changed} of them changed "
              f"({100 * changed / entries:.1f}%)")
        print(f"plan:   {summary}")
        print(f"  plan FILE            {t_plan:8.2f} s   0 kernel writes")
        print(f"  apply --yes FILE     {t_apply:8.2f} s   {ops} kernel writes (plus the dumps of plan and verify)")
        print(f"  plan after apply     {t_check:8.2f} s   (no change left)")
        print(f"  -F; -FP; -f FILE     {t_replay:8.2f} s   {replay_ops} kernel writes")
        print(f"ratios vs -F; -FP; -f: writes {ops / replay_ops:.4f} ({replay_ops / max(ops, 1):.0f}x fewer), "
              f"wall time apply {t_apply / t_replay:.2f}x, plan {t_plan / t_replay:.2f}x")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()
        with contextlib.suppress(OSError):
            os.unlink(sock)


if __name__ == "__main__":
    main()
