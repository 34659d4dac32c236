"""Render benchmark: ``-D`` of 100k SAs from replayed dump bytes, and ``-x`` decoding of 100k messages.

Run: ``.venv/bin/python bench/bench_render.py [COUNT]``. Prints the figures (targets: -D ≤ 5 s wall for
100k SAs including decoding; -x ≥ 20k messages/s).
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

from setkey_tui import cli
from setkey_tui.pfkey.constants import ExtType, MsgType, SAType
from setkey_tui.pfkey.extensions import (
    AddressExt,
    IpsecRequest,
    KeyExt,
    LifetimeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    Sockaddr,
)
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.render.monitor import format_monitor_entry
from setkey_tui.render.postproc import DumpOptions, postproc

NOW = 1700000000


def _template() -> bytes:
    """One aes-cbc + hmac-sha256 ESP SA with hard/soft/current lifetimes, as Linux dumps it."""
    exts = (
        SAExt(0x1000, 32, 1, 5, 12, 0),
        LifetimeExt(ExtType.LIFETIME_HARD, 0, 0, 3600, 0),
        LifetimeExt(ExtType.LIFETIME_SOFT, 0, 0, 2880, 0),
        LifetimeExt(ExtType.LIFETIME_CURRENT, 3, 12345, NOW - 100, NOW - 50),
        AddressExt(ExtType.ADDRESS_SRC, Sockaddr(2, 0, bytes([10, 0, 0, 1])), 0, 32),
        AddressExt(ExtType.ADDRESS_DST, Sockaddr(2, 0, bytes([10, 0, 0, 2])), 0, 32),
        KeyExt(ExtType.KEY_AUTH, 256, bytes(range(32))),
        KeyExt(ExtType.KEY_ENCRYPT, 256, bytes(range(32, 64))),
        SA2Ext(2, 7, 0),
    )
    return Message(MsgType.DUMP, SAType.ESP, 0, 4242, 0, exts).encode(LINUX)


def dump_messages(count: int) -> list[bytes]:
    """``count`` distinct SA dump replies, seq counting down to 0 (SPI and dst address vary)."""
    base = bytearray(_template())
    spi_off = 16 + 4  # SA extension is first: spi after its 4-byte header
    out = []
    for i in range(count):
        struct.pack_into("<I", base, 8, count - 1 - i)
        struct.pack_into(">I", base, spi_off, 0x1000 + i)
        out.append(bytes(base))
    return out


def monitor_messages(count: int) -> list[bytes]:
    """A mix for -x: SA dump replies and tunnel-mode policies."""
    sas = dump_messages(count // 2 + 1)
    pol = Message(MsgType.X_SPDADD, 0, 0, 4242, 0, (
        PolicyExt(2, 2, 0, 0x80000000, (IpsecRequest(50, 2, 2, 0, Sockaddr(2, 0, b"\x01\x01\x01\x01"),
                                                     Sockaddr(2, 0, b"\x02\x02\x02\x02")),)),
        AddressExt(ExtType.ADDRESS_SRC, Sockaddr(2, 0, bytes([10, 0, 0, 0])), 255, 24),
        AddressExt(ExtType.ADDRESS_DST, Sockaddr(2, 0, bytes([10, 0, 1, 0])), 255, 24),
    )).encode(LINUX)
    return [sas[i // 2] if i % 2 == 0 else pol for i in range(count)]


def bench_dump_inprocess(messages: list[bytes]) -> float:
    """Decode + format every reply, written to /dev/null; seconds."""
    opts = DumpOptions()
    t0 = time.perf_counter()
    with open(os.devnull, "w") as out:
        for data in messages:
            text, _ = postproc(decode(data, LINUX), now=NOW, options=opts, platform=LINUX)
            out.write(text)
    return time.perf_counter() - t0


def bench_dump_cli(messages: list[bytes]) -> float:
    """``setkey-tui --kernel replay:FILE -D > /dev/null`` in-process (replay file parsing included); seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dump.hex"
        path.write_text("".join(m.hex() + "\n" for m in messages), encoding="ascii")
        os.environ["SETKEY_TUI_NOW"] = str(NOW)
        t0 = time.perf_counter()
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            rc = cli.main(["--kernel", f"replay:{path}", "--platform", "linux", "-D"])
        elapsed = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"-D run failed with status {rc}")
    return elapsed


def bench_monitor(messages: list[bytes]) -> float:
    """format_monitor_entry (-x, no hex) for every message; seconds."""
    t0 = time.perf_counter()
    with open(os.devnull, "w") as out:
        for data in messages:
            out.write(format_monitor_entry(data, when=NOW, tflag=1, hexdump=False, platform=LINUX))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and print their figures."""
    args = sys.argv[1:] if argv is None else argv
    count = int(args[0]) if args else 100_000
    msgs = dump_messages(count)
    t_in = bench_dump_inprocess(msgs)
    print(f"-D  {count} SAs, decode+format to /dev/null:            {t_in:6.2f} s  ({count / t_in:,.0f} SAs/s)")
    t_cli = bench_dump_cli(msgs)
    print(f"-D  {count} SAs, whole CLI via --kernel replay:FILE:     {t_cli:6.2f} s  (target <= 5 s)")
    mon = monitor_messages(count)
    t_mon = bench_monitor(mon)
    print(f"-x  {count} messages decoded (kdebug) to /dev/null:      {t_mon:6.2f} s  "
          f"({count / t_mon:,.0f} messages/s, target >= 20,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
