"""One typed view, one key: table rows (decoded or scanned from bytes), the model and export agree."""

from __future__ import annotations

import ipaddress

import pytest

from setkey_tui import matching, mirror
from setkey_tui.mirror import SARow, SPRow, sa_key_of
from setkey_tui.model import ModelError, SecurityAssociation, SecurityPolicy, policy_key, sa_key
from setkey_tui.pfkey.constants import ExtType, MsgType, SAType
from setkey_tui.pfkey.extensions import AddressExt, Sockaddr
from setkey_tui.pfkey.message import decode
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.render.export import ExportError, sa_to_statement, sp_to_statement
from setkey_tui.rowscan import RowScanner
from setkey_tui.scenarios.synthetic import sa_message, sp_message
from setkey_tui.tui import columns

from .recorded import realkernel_replies

REAL_SA = [(label, data) for label, data in realkernel_replies("dump_hex") if decode(data, LINUX).extensions]
REAL_SP = [(label, data) for label, data in realkernel_replies("spddump_hex") if decode(data, LINUX).extensions]


def _v6(msg, ext_type: int, text: str):
    """``msg`` with the address extension ``ext_type`` moved to the IPv6 address ``text``."""
    old = msg.get(ext_type)
    sa = Sockaddr(LINUX.af_inet6, old.sockaddr.port, ipaddress.IPv6Address(text).packed)
    return msg.with_ext(AddressExt(ext_type, sa, old.proto, 128 if old.prefixlen == 32 else old.prefixlen))


SYNTHETIC_SA = [sa_message(7), _v6(_v6(sa_message(9), ExtType.ADDRESS_SRC, "2001:db8::1"),
                                   ExtType.ADDRESS_DST, "2001:db8::2")]
SYNTHETIC_SP = [sp_message(3, direction=1), _v6(_v6(sp_message(4), ExtType.ADDRESS_SRC, "2001:db8::1"),
                                                ExtType.ADDRESS_DST, "2001:db8:1::")]


@pytest.mark.parametrize("data", [d for _, d in REAL_SA] + [m.encode(LINUX) for m in SYNTHETIC_SA])
def test_an_sa_row_has_the_models_key_and_view(data: bytes) -> None:
    msg = decode(data, LINUX)
    row = SARow(msg)
    sa = SecurityAssociation.from_message(msg)
    assert row.key == sa.key == sa_key_of(msg)
    dst = msg.get(ExtType.ADDRESS_DST).sockaddr.addr
    assert row.key == sa_key(msg.satype, dst, msg.get(ExtType.SA).spi)
    assert row.model == sa
    scanned = RowScanner(LINUX).sa_row(data)
    if scanned is not None:  # the fast path builds the key inline: it must be the same key
        assert scanned.key == row.key
        assert scanned.model == sa


@pytest.mark.parametrize("data", [d for _, d in REAL_SP] + [m.encode(LINUX) for m in SYNTHETIC_SP])
def test_a_policy_row_has_the_models_key_and_view(data: bytes) -> None:
    msg = decode(data, LINUX)
    if ExtType.ADDRESS_SRC not in msg:  # a per-socket policy: no row (the mirror shows selectors)
        with pytest.raises(ValueError):
            SPRow(msg)
        return
    row = SPRow(msg)
    sp = SecurityPolicy.from_message(msg)
    assert row.key == sp.key
    s, d = msg.get(ExtType.ADDRESS_SRC), msg.get(ExtType.ADDRESS_DST)
    assert row.key == policy_key(s.sockaddr.addr, s.prefixlen, s.sockaddr.port, d.sockaddr.addr, d.prefixlen,
                                 d.sockaddr.port, s.proto, sp.direction)
    assert row.model == sp
    scanned = RowScanner(LINUX).sp_row(data)
    if scanned is not None:
        assert scanned.key == row.key
        assert scanned.model == sp


def test_keys_sort_ipv4_before_ipv6_and_numerically() -> None:
    keys = sorted([sa_key(SAType.ESP, bytes(16), 1), sa_key(SAType.ESP, bytes([10, 0, 0, 9]), 1),
                   sa_key(SAType.ESP, bytes([9, 255, 0, 0]), 1)])
    assert [k[1:3] for k in keys] == [(4, 0x09FF0000), (4, 0x0A000009), (16, 0)]


def test_a_row_without_a_source_address_has_no_model() -> None:
    msg = sa_message(1).without(ExtType.ADDRESS_SRC)
    row = SARow(msg)  # the table still shows it
    assert row.src == "?"
    with pytest.raises(ModelError, match="source or destination"):
        row.model  # noqa: B018 - the property raises


@pytest.mark.parametrize("with_keys", [True, False])
def test_export_of_a_row_message_and_of_its_model_agree(with_keys: bool) -> None:
    for data in [d for _, d in REAL_SA] + [m.encode(LINUX) for m in SYNTHETIC_SA]:
        msg = decode(data, LINUX)
        try:
            want = sa_to_statement(msg, with_keys=with_keys)
        except ExportError as exc:
            with pytest.raises(ExportError, match=str(exc)):
                sa_to_statement(SARow(msg).model, with_keys=with_keys)
            continue
        assert sa_to_statement(SARow(msg).model, with_keys=with_keys) == want
    for data in [d for _, d in REAL_SP] + [m.encode(LINUX) for m in SYNTHETIC_SP]:
        msg = decode(data, LINUX)
        if ExtType.ADDRESS_SRC not in msg:
            with pytest.raises(ExportError, match="source, destination and policy"):
                sp_to_statement(SecurityPolicy.from_message(msg))
            continue
        try:
            want = sp_to_statement(msg)
        except ExportError:
            continue
        assert sp_to_statement(SPRow(msg).model) == want


def test_the_ipv6_sa_exports_its_addresses() -> None:
    text = sa_to_statement(SARow(SYNTHETIC_SA[1]).model, with_keys=False)
    assert text.splitlines()[-1].startswith("add 2001:db8::1 2001:db8::2 esp 0x1009 ")


def test_columns_and_matching_keep_their_names_in_the_mirror() -> None:
    assert mirror.SA_COLUMNS is columns.SA_COLUMNS and mirror.SP_COLUMNS is columns.SP_COLUMNS
    assert mirror.Column is columns.Column and mirror.request_matches is matching.request_matches
    m = mirror.Mirror()
    assert m.sad.columns is columns.SA_COLUMNS and m.spd.columns is columns.SP_COLUMNS
    assert [c.name for c in columns.SA_COLUMNS][:4] == ["src", "dst", "proto", "spi"]


def test_an_sa_serves_the_policy_whose_selector_holds_it() -> None:
    m = mirror.Mirror()
    m.load_sad([sa_message(5, msg_type=MsgType.DUMP), sa_message(6, msg_type=MsgType.DUMP)])
    m.load_spd([sp_message(5), sp_message(6)])
    sa5 = next(r for r in m.sad.rows.values() if r.spi == 0x1005)
    assert [p.spid for p in m.policies_for_sa(sa5)] == [8 * 5 + 2]
    sp6 = next(r for r in m.spd.rows.values() if r.spid == 8 * 6 + 2)
    assert [s.spi for s in m.sas_for_policy(sp6)] == [0x1006]
