"""A remote kernel through ssh on localhost beside the same served kernel opened directly.

One served simulated kernel (``setkey-tui serve-sim``) holds 100k SAs; a throwaway sshd on 127.0.0.1
(tests/kernel/sshd_harness.py) runs ``setkey-tui bridge --kernel sim@PATH``. Figures, each with its ratio
(through ssh / direct), all measured in this run:

  1. ``setkey-tui -D`` as a user runs it (a new process, its output read): wall time, with 20k SAs (setkey's
     1-second receive timeout cuts a 100k-SA dump of the served simulated kernel, which builds the whole
     dump before its first reply, directly as through ssh); then SADB_DUMP of 100k SAs through KeyService.
  2. Change → visible: a promiscuous socket waits while another process's socket adds an SA on the kernel;
     time from the ADD sent to its copy received (median and p95 of 200).
  3. Opening a socket: a new ssh connection (login + bridge start + handshake) against one more channel on a
     live connection: why every socket of a process shares one ssh (docs/kernels.md).
  4. The TUI, headless: start → both tables loaded with the 100k SAs (dump through the service); then change
     → table: an SA added directly on the kernel until its row is in the app's table (median of 20).

Without sshd the ssh figures are taken through local_ssh.py (the bridge on plain pipes) and say so.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "kernel"
sys.path.insert(0, str(TESTS))

from sshd_harness import SshdUnavailable, local_sshd  # noqa: E402

from setkey_tui.kernel.choose import open_transport  # noqa: E402
from setkey_tui.kernel.sim.client import SimClient  # noqa: E402
from setkey_tui.pfkey.constants import ExtType, MsgType  # noqa: E402
from setkey_tui.pfkey.extensions import SAExt  # noqa: E402
from setkey_tui.pfkey.message import decode  # noqa: E402
from setkey_tui.pfkey.platform import LINUX  # noqa: E402

SAS = 100_000
CLI_SAS = 20_000  # setkey's -D gives up after 1 s without a reply (SO_RCVTIMEO), and the served simulated
# kernel builds a whole dump before its first reply: 2 s for 100k SAs on the development machine.
LATENCY_ROUNDS = 200
OPEN_ROUNDS = 5
TUI_ROUNDS = 20
BRIDGE = f"{sys.executable} -m setkey_tui.kernel.remote.bridge"


def load(path: str, count: int, first: int = 0) -> None:
    """Add SAs ``first`` .. ``first + count - 1`` to the served kernel (pipelined in windows of 256)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_simkernel import add_requests

    c = SimClient(path)
    reqs = add_requests(first + count)[first:]
    window = 256
    for i in range(0, len(reqs), window):
        part = reqs[i:i + window]
        for data in part:
            c.send(data)
        for _ in part:
            assert c.recv(10.0) is not None
    c.close()


def cli_dump(spec: str, expect: int) -> float:
    """Wall time of ``setkey-tui --kernel SPEC -D`` in a new process (its output read and counted)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "setkey_tui", "--kernel", spec, "-D"], capture_output=True,
                          check=True, timeout=600)
    took = time.perf_counter() - t
    shown = proc.stdout.count(b"\n\tesp mode=")
    if shown != expect or proc.stderr:
        raise RuntimeError(f"-D on {spec} showed {shown} SAs of {expect}: {proc.stderr.decode().strip()}")
    return took


def service_dump(spec: str) -> float:
    """Seconds for KeyService.dump() (the TUI's start-up dump, decoded) on a socket opened on ``spec``."""
    from setkey_tui.service import KeyService

    svc = KeyService(open_transport(spec))
    try:
        t = time.perf_counter()
        got = svc.dump(timeout=60)
        took = time.perf_counter() - t
    finally:
        svc.close()
    if len(got) != SAS:
        raise RuntimeError(f"the dump on {spec} gave {len(got)} SAs of {SAS}")
    return took


def latency(spec: str, path: str, rounds: int) -> list[float]:
    """Seconds from an ADD sent directly to its promiscuous copy received on ``spec``."""
    watcher = open_transport(spec)
    watcher.set_promisc(True)
    while watcher.recv(0.3) is not None:
        pass
    from sim_build import sa_msg

    writer = SimClient(path)
    out = []
    for i in range(rounds):
        spi = 0x7000000 + i
        data = sa_msg(spi=spi, dst=f"10.200.{i // 250}.{i % 250 + 1}").encode(LINUX)
        t = time.perf_counter()
        writer.send(data)
        while True:
            got = watcher.recv(10.0)
            assert got is not None, "no copy within 10 s"
            msg = decode(got, LINUX)
            sa = msg.get(ExtType.SA)
            if msg.type == MsgType.ADD and isinstance(sa, SAExt) and sa.spi == spi and msg.errno == 0:
                break
        out.append(time.perf_counter() - t)
        assert writer.recv(10.0) is not None
    watcher.close()
    writer.close()
    return out


def open_costs(spec: str) -> tuple[float, float]:
    """(median seconds to open a socket with a new ssh connection, median seconds for one more channel)."""
    fresh, channel = [], []
    for _ in range(OPEN_ROUNDS):
        t = time.perf_counter()
        first = open_transport(spec)
        fresh.append(time.perf_counter() - t)
        t = time.perf_counter()
        second = open_transport(spec)
        channel.append(time.perf_counter() - t)
        second.close()
        first.close()
    return statistics.median(fresh), statistics.median(channel)


def tui_load(spec: str, path: str, rounds: int = TUI_ROUNDS) -> tuple[float, list[float]]:
    """Seconds from the headless app's start to both tables loaded (100k SAs); then, ``rounds`` times, seconds
    from an ADD sent directly on the kernel to its row in the app's table (drained from the listener)."""
    from sim_build import sa_msg

    from setkey_tui.link import default_opener
    from setkey_tui.mirror import SARow
    from setkey_tui.pfkey.message import decode as decode_msg
    from setkey_tui.tui.app import SetkeyApp

    async def run() -> tuple[float, list[float]]:
        t = time.perf_counter()
        opener, first = default_opener(spec, None)
        app = SetkeyApp(opener, platform=first.platform)
        async with app.run_test(size=(160, 48)) as pilot:
            while not app.loaded.is_set():
                await pilot.pause(0.02)
                if app.link_broken or time.perf_counter() - t > 300:
                    raise RuntimeError(f"the TUI did not load: {app.status}")
            took = time.perf_counter() - t
            assert app.mirror.sad.total >= SAS
            writer = SimClient(path)
            seen = []
            for i in range(rounds):
                data = sa_msg(spi=0x9000000 + i + (0 if "ssh:" in spec else rounds),
                              dst=f"10.201.{i // 250}.{i % 250 + 1}").encode(LINUX)
                key = SARow(decode_msg(data, LINUX)).key
                t0 = time.perf_counter()
                writer.send(data)
                while key not in app.mirror.sad.rows:
                    await pilot.pause(0.005)
                    if time.perf_counter() - t0 > 30:
                        raise RuntimeError("a change did not reach the table in 30 s")
                seen.append(time.perf_counter() - t0)
                writer.recv(5.0)
            writer.close()
            await pilot.press("q")
        return took, seen

    return asyncio.run(run())


def _ratio(a: float, b: float) -> str:
    return f"{a / b:5.2f}x" if b > 0 else "  n/a"


def measure(ssh_spec: str, path: str, how: str) -> None:
    direct = f"sim@{path}"
    print(f"through: {how}")
    t = time.perf_counter()
    load(path, CLI_SAS)
    print(f"loaded {CLI_SAS:,} SAs into the served kernel in {time.perf_counter() - t:.1f} s")
    d = min(cli_dump(direct, CLI_SAS) for _ in range(2))
    s = min(cli_dump(ssh_spec, CLI_SAS) for _ in range(2))
    print(f"setkey -D, {CLI_SAS:,} SAs:      direct {d:6.2f} s   through ssh {s:6.2f} s   ratio {_ratio(s, d)}")
    t = time.perf_counter()
    load(path, SAS - CLI_SAS, first=CLI_SAS)
    print(f"loaded {SAS - CLI_SAS:,} more SAs in {time.perf_counter() - t:.1f} s")
    d = min(service_dump(direct) for _ in range(2))
    s = min(service_dump(ssh_spec) for _ in range(2))
    print(f"SADB_DUMP, {SAS:,} SAs (decoded): direct {d:6.2f} s   through ssh {s:6.2f} s   ratio {_ratio(s, d)}")
    ld = latency(direct, path, LATENCY_ROUNDS)
    ls = latency(ssh_spec, path, LATENCY_ROUNDS)
    md, ms = statistics.median(ld) * 1000, statistics.median(ls) * 1000
    pd, ps = (statistics.quantiles(x, n=20)[18] * 1000 for x in (ld, ls))
    print(f"change → visible (median):  direct {md:6.2f} ms  through ssh {ms:6.2f} ms  ratio {_ratio(ms, md)}")
    print(f"change → visible (p95):     direct {pd:6.2f} ms  through ssh {ps:6.2f} ms  ratio {_ratio(ps, pd)}")
    fresh, channel = open_costs(ssh_spec)
    print(f"open a socket:              new ssh connection {fresh * 1000:7.1f} ms   one more channel "
          f"{channel * 1000:6.2f} ms   ratio {_ratio(fresh, channel)}")
    try:
        td, cd = tui_load(direct, path)
        ts, cs = tui_load(ssh_spec, path)
    except RuntimeError as exc:  # e.g. the served kernel took over 5 s to start its dump on a busy machine
        print(f"TUI start → {SAS:,} SAs loaded: not measured ({exc})")
        return
    print(f"TUI start → {SAS:,} SAs loaded: direct {td:6.2f} s   through ssh {ts:6.2f} s   ratio {_ratio(ts, td)}")
    md, ms = statistics.median(cd) * 1000, statistics.median(cs) * 1000
    print(f"TUI change → table (median of {TUI_ROUNDS}): direct {md:6.1f} ms  through ssh {ms:6.1f} ms  "
          f"ratio {_ratio(ms, md)}  (the app drains its listener every 50 ms)")


def main() -> None:
    """Run and print the figures."""
    os.environ["SETKEY_TUI_REMOTE_COMMAND"] = BRIDGE
    with tempfile.TemporaryDirectory(prefix="setkey-bench-remote-") as folder:
        path = str(Path(folder) / "k.sock")
        server = subprocess.Popen([sys.executable, "-m", "setkey_tui", "serve-sim", path],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(path):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("serve-sim did not start")
                time.sleep(0.05)
            try:
                with local_sshd() as sshd:
                    os.environ["SETKEY_TUI_SSH"] = sshd.ssh
                    measure(f"ssh:remote-test/sim@{path}", path, f"ssh to a throwaway sshd on 127.0.0.1:{sshd.port}")
            except SshdUnavailable as exc:
                print(f"NO SSHD ({exc}): the bridge on plain pipes instead (local_ssh.py)")
                os.environ["SETKEY_TUI_SSH"] = f"{sys.executable} {TESTS / 'local_ssh.py'}"
                measure(f"ssh:pipes/sim@{path}", path, "local_ssh.py (no ssh)")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
