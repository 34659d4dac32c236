"""Simulated kernel throughput: load 100k SAs and 10k policies, then dump them.

Prints: ADDs/s through the sans-I/O core (encode + handle), SPDADDs/s, a SADB_DUMP of every SA through the
core, the same dump through KeyService over the in-process transport (what the TUI does at start), round
trips and a 10k-SA dump through a served kernel, and a 100k-SA dump from a `serve-sim` process: time to the
first reply and to the last, and the server's memory (RSS) before, during and after, for the streamed dump
and for a reference server that builds the whole dump before its first reply (as before dumps streamed).

``python bench/bench_simkernel.py served-dump`` runs only the last part.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from setkey_tui.kernel.sim.kernel import SimKernel
from setkey_tui.kernel.sim.transport import SimHost, SimTransport
from setkey_tui.pfkey.constants import EncAlg, ExtType, Level, Mode, MsgType, PolicyType, SAType
from setkey_tui.pfkey.extensions import AddressExt, IpsecRequest, KeyExt, PolicyExt, SA2Ext, SAExt, Sockaddr
from setkey_tui.pfkey.message import Message, header_only
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.service import KeyService

SAS = 100_000
POLICIES = 10_000


def _addr(ext: int, ip: ipaddress.IPv4Address, prefix: int = 32) -> AddressExt:
    return AddressExt(ext, Sockaddr(2, 0, ip.packed), 255, prefix)


def add_requests(count: int) -> list[bytes]:
    """ESP ADD requests (aes-cbc) for ``count`` distinct SAs."""
    base = ipaddress.IPv4Address("10.0.0.0")
    key = KeyExt(ExtType.KEY_ENCRYPT, 128, bytes(range(16)))
    out = []
    for i in range(count):
        exts = (
            key,
            SAExt(0x1000 + i, 0, 0, 0, EncAlg.AESCBC),
            SA2Ext(Mode.TRANSPORT),
            _addr(ExtType.ADDRESS_SRC, base + 1),
            _addr(ExtType.ADDRESS_DST, base + 2 + i),
        )
        out.append(Message(MsgType.ADD, SAType.ESP, 0, 1, 0, exts).encode(LINUX))
    return out


def spdadd_requests(count: int) -> list[bytes]:
    """Outbound require policies for ``count`` distinct /32 selectors."""
    base = ipaddress.IPv4Address("172.16.0.0")
    pol = PolicyExt(PolicyType.IPSEC, 2, 0, 0x80000000, (IpsecRequest(50, Mode.TRANSPORT, Level.REQUIRE),))
    return [
        Message(
            MsgType.X_SPDADD,
            0,
            0,
            1,
            0,
            (pol, _addr(ExtType.ADDRESS_SRC, base), _addr(ExtType.ADDRESS_DST, base + 1 + i)),
        ).encode(LINUX)
        for i in range(count)
    ]


def main() -> None:
    """Run and print the figures."""
    kernel = SimKernel(seed=0)
    sid = kernel.open_socket()
    adds = add_requests(SAS)
    t = time.perf_counter()
    for data in adds:
        kernel.handle(sid, data)
    dt = time.perf_counter() - t
    print(f"ADD through the core:       {SAS / dt:10,.0f} msgs/s  ({SAS:,} SAs in {dt:.2f} s)")
    pols = spdadd_requests(POLICIES)
    t = time.perf_counter()
    for data in pols:
        kernel.handle(sid, data)
    dt = time.perf_counter() - t
    print(f"SPDADD through the core:    {POLICIES / dt:10,.0f} msgs/s  ({POLICIES:,} policies in {dt:.2f} s)")
    t = time.perf_counter()
    replies = kernel.handle(sid, header_only(MsgType.DUMP, pid=1).encode(LINUX))
    dt = time.perf_counter() - t
    print(f"DUMP of {len(replies):,} SAs (core):    {dt:.2f} s")
    host = SimHost(kernel)
    svc = KeyService(SimTransport(host), pid=2)
    t = time.perf_counter()
    got = svc.dump()
    dt = time.perf_counter() - t
    print(f"DUMP of {len(got):,} SAs (KeyService over SimTransport, decoded): {dt:.2f} s")
    t = time.perf_counter()
    got_sp = svc.spddump()
    dt = time.perf_counter() - t
    print(f"SPDDUMP of {len(got_sp):,} policies (KeyService, decoded): {dt:.2f} s")
    served()
    served_dump()


def served(count: int = 10_000) -> None:
    """Round trips and a dump through a served kernel (Unix SOCK_SEQPACKET, one thread serving)."""
    import tempfile
    import threading
    from pathlib import Path

    from setkey_tui.kernel.sim.client import SimClient
    from setkey_tui.kernel.sim.server import SimServer

    with tempfile.TemporaryDirectory() as folder:
        server = SimServer(str(Path(folder) / "k.sock"), SimHost(SimKernel(seed=0)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        server.ready.wait(5)
        svc = KeyService(SimClient(server.path), pid=3)
        reqs = add_requests(count)
        t = time.perf_counter()
        for data in reqs:
            svc.transport.send(data)
            svc.transport.recv(5.0)
        dt = time.perf_counter() - t
        print(f"ADD round trips, served:    {count / dt:10,.0f} /s      ({count:,} in {dt:.2f} s)")
        t = time.perf_counter()
        got = svc.dump()
        dt = time.perf_counter() - t
        print(f"DUMP of {len(got):,} SAs, served (KeyService over SimClient, decoded): {dt:.2f} s")
        svc.close()
        server.stop()
        thread.join(5)


def _rss_kib(pid: int) -> int:
    """A process's resident set size in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


_SERVER = """
import sys
from setkey_tui.kernel.sim.server import serve
from setkey_tui.kernel.sim.transport import SimHost
serve(sys.argv[1], host=SimHost(dump_rcvbuf=int(sys.argv[2])))
"""


def served_dump_figures(count: int, dump_rcvbuf: int) -> tuple[float, float, int, int, int]:
    """Start a server process, load ``count`` SAs, dump them once through a connection; (seconds to the first
    reply, seconds to the last, server RSS KiB before, highest seen during, after)."""
    from setkey_tui.kernel.sim.client import SimClient

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "k.sock")
        proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, path, str(dump_rcvbuf)],
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        try:
            assert proc.stderr is not None
            started = proc.stderr.readline()
            if b"serving" not in started:
                raise RuntimeError(f"the server did not start: {started}")
            loader = SimClient(path)
            reqs = add_requests(count)
            for at in range(0, count, 1000):
                for data in reqs[at : at + 1000]:
                    loader.send(data)
                for _ in reqs[at : at + 1000]:
                    if loader.recv(30.0) is None:
                        raise RuntimeError("the server did not answer an ADD")
            loader.close()
            before = _rss_kib(proc.pid)
            client = SimClient(path)
            t = time.perf_counter()
            client.send(header_only(MsgType.DUMP, pid=5).encode(LINUX))
            got = 0
            first = 0.0
            peak = before
            while True:
                data = client.recv(30.0)
                if data is None:
                    raise RuntimeError(f"the dump stopped after {got} replies")
                got += 1
                if got == 1:
                    first = time.perf_counter() - t
                if got % 2000 == 0:
                    peak = max(peak, _rss_kib(proc.pid))
                if data[8:12] == bytes(4):  # seq 0: the last reply
                    break
            total = time.perf_counter() - t
            after = _rss_kib(proc.pid)
            client.close()
            if got != count:
                raise RuntimeError(f"the dump gave {got} replies for {count} SAs")
            return first, total, before, max(peak, after), after
        finally:
            proc.terminate()
            proc.wait(10)
            if proc.stderr:
                proc.stderr.close()


def served_dump(count: int = SAS) -> None:
    """A dump of ``count`` SAs from a served kernel: streamed vs built whole first (the reference)."""
    from setkey_tui.kernel.sim.transport import DUMP_RCVBUF

    rows = [("streamed", DUMP_RCVBUF), ("built whole first (reference)", 1 << 40)]
    figures = {name: served_dump_figures(count, rcvbuf) for name, rcvbuf in rows}
    print(f"served DUMP of {count:,} SAs (serve-sim process, raw SimClient):")
    for name, (first, total, before, peak, after) in figures.items():
        print(
            f"  {name:30} first reply {first * 1000:8.1f} ms   last {total:6.2f} s   "
            f"server RSS before {before / 1024:6.1f} MiB, "
            f"peak {peak / 1024:6.1f} MiB (+{(peak - before) / 1024:.1f}), after {after / 1024:6.1f} MiB"
        )
    s, r = figures["streamed"], figures["built whole first (reference)"]
    print(
        f"  streamed vs reference: first reply {r[0] / s[0]:.0f}x sooner, total {s[1] / r[1]:.2f}x the time, "
        f"extra memory {(s[3] - s[2]) / 1024:.1f} MiB vs {(r[3] - r[2]) / 1024:.1f} MiB"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["served-dump"]:
        served_dump()
    else:
        main()
