"""Simulated kernel throughput: load 100k SAs and 10k policies, then dump them.

Prints: ADDs/s through the sans-I/O core (encode + handle), SPDADDs/s, a SADB_DUMP of every SA through the
core, the same dump through KeyService over the in-process transport (what the TUI does at start), and round
trips and a 10k-SA dump through a served kernel.
"""

from __future__ import annotations

import ipaddress
import time

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


if __name__ == "__main__":
    main()
