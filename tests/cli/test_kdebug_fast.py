"""The monitor's fast printers (SA and address extensions straight from the bytes) print exactly what the
general kdebug path prints, for every extension they accept."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from setkey_tui.pfkey.constants import ADDRESS_EXTS, ExtType
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.render.kdebug import _Ctx, _extension, _fast_printers, kdebug


def _wire_types(platform: Platform) -> list[int]:
    return sorted(w for w, c in platform.ext_from_wire.items() if c == ExtType.SA or c in ADDRESS_EXTS)


@st.composite
def extensions(draw: st.DrawFn) -> tuple[bytes, int, int]:
    etype = draw(st.sampled_from(_wire_types(LINUX)))
    elen = draw(st.integers(min_value=1, max_value=6))
    body = bytearray(draw(st.binary(min_size=elen * 8 - 4, max_size=elen * 8 - 4)))
    if len(body) >= 6:
        family = draw(st.sampled_from([2, LINUX.af_inet6, 0, 7]))
        body[4:6] = struct.pack(LINUX.byteorder + "H", family)
    ext = struct.pack(LINUX.byteorder + "HH", elen, etype) + bytes(body)
    return ext, elen, etype


@given(extensions())
def test_fast_printers_print_what_the_general_path_prints(case: tuple[bytes, int, int]) -> None:
    ext, elen, etype = case
    fast = _fast_printers(LINUX)[etype](ext, 0, elen, etype)
    general, stop = _extension(_Ctx(LINUX), ext, 0, len(ext), elen, etype)
    assert not stop
    if fast is not None:
        assert fast == general


def test_a_flood_message_uses_them_and_reads_the_same_twice() -> None:
    sa = struct.pack("<HH", 2, 1) + struct.pack(">I", 0x01020304) + struct.pack("<BBBBI", 0, 1, 2, 12, 0)
    sockaddr = struct.pack("<H", 2) + struct.pack(">H", 500) + bytes([10, 1, 0, 1]) + bytes(8)
    addr = struct.pack("<HHBBH", 3, 5, 255, 32, 0) + sockaddr
    body = sa + addr
    msg = struct.pack("<BBBBHHII", 2, 3, 0, 3, 2 + len(body) // 8, 0, 7, 99) + body
    text = kdebug(msg, LINUX)
    assert "sadb_sa{ spi=16909060 replay=0 state=1\n  auth=2 encrypt=12 flags=0x00000000 }" in text
    assert "sockaddr{ len=16 family=2 port=500\n 0a010001  }\n" in text
    assert kdebug(msg, LINUX) == text  # the second time from the caches
