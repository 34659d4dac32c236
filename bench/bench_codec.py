"""PF_KEY codec throughput: decode and re-encode 100k SA dump replies as a Linux kernel sends them.

Each reply is an ESP SA with aes-cbc (256-bit) and hmac-sha256 keys, hard/soft/current lifetimes, source,
destination and proxy addresses and an SA2 extension, in af_key's extension order. The SPIs and addresses
differ from message to message. Prints messages/s for decode and for encode (best of a few rounds), and for
a decode that keeps all 100k results alive (where Python's cyclic GC takes its share).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from setkey_tui.model import Endpoint, Lifetime, SecurityAssociation
from setkey_tui.pfkey import decode
from setkey_tui.pfkey.constants import AuthAlg, EncAlg, Mode, MsgType, SAType
from setkey_tui.pfkey.message import encode
from setkey_tui.pfkey.platform import LINUX

COUNT = 100_000
ROUNDS = 3


def dump_replies(count: int = COUNT) -> list[bytes]:
    """``count`` distinct SA dump replies (bytes), last one with seq 0 as Linux ends a dump."""
    base = ipaddress.IPv4Address("10.0.0.0")
    out = []
    for i in range(count):
        sa = SecurityAssociation(
            satype=SAType.ESP,
            src=Endpoint.host(base + 2 * i + 1),
            dst=Endpoint.host(base + 2 * i + 2),
            spi=0x1000 + i,
            mode=Mode.TRANSPORT,
            reqid=i & 0x3FFF,
            auth=AuthAlg.SHA2_256HMAC,
            encrypt=EncAlg.AESCBC,
            auth_key=i.to_bytes(4, "big") * 8,
            enc_key=(i * 7).to_bytes(4, "big") * 8,
            replay=32,
            current=Lifetime(i, 1000 * i, 1_795_726_849 + i, 1_795_726_900 + i),
            hard=Lifetime(0, 0, 3600, 0),
            soft=Lifetime(0, 0, 2880, 0),
            msg_seq=(i + 1) % count,
            pid=4242,
            proxy=Endpoint(ipaddress.IPv4Address("0.0.0.0"), 0),
        )
        out.append(sa.to_message(MsgType.DUMP, LINUX).encode(LINUX))
    return out


def _best(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    """The best wall time of ``rounds`` calls of ``fn``."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    """Build the replies, then time decoding them and encoding the decoded messages."""
    data = dump_replies()
    n = len(data)
    print(f"   {n} SA dump replies of {len(data[0])} bytes each (ESP aes-cbc + hmac-sha256, Linux layout)")

    def stream() -> None:
        for b in data:
            decode(b, LINUX)

    t_stream = _best(stream)
    t0 = time.perf_counter()
    msgs = [decode(b, LINUX) for b in data]
    t_keep = time.perf_counter() - t0
    t_encode = _best(lambda: [encode(m, LINUX) for m in msgs])
    if [encode(m, LINUX) for m in msgs] != data:
        raise SystemExit("re-encoded messages differ from the originals")
    print(f"   decode:           {n / t_stream:>10,.0f} messages/s  (each message dropped after decoding)")
    print(
        f"   decode, all kept: {n / t_keep:>10,.0f} messages/s  (100k results alive: the cyclic GC's share)"
    )
    print(f"   encode:           {n / t_encode:>10,.0f} messages/s  (byte-identical to the input)")


if __name__ == "__main__":
    main()
