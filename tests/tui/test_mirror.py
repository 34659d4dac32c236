"""The mirror: diffs by key from kernel messages, incremental sort/filter, coalescing."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from setkey_tui.mirror import Mirror, SARow, is_kernel_word
from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import LifetimeExt, PolicyExt
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.scenarios.synthetic import sa_message, sp_message
from setkey_tui.tui.filters import FilterError, parse_filter


def test_kernel_word_needs_current_lifetime_and_no_errno() -> None:
    reply = sa_message(1, msg_type=MsgType.ADD)
    request = reply.without(ExtType.LIFETIME_CURRENT)
    assert is_kernel_word(reply)
    assert not is_kernel_word(request)  # a request copied to the promiscuous socket
    assert not is_kernel_word(reply._replace(errno=17))
    assert is_kernel_word(header_only(MsgType.FLUSH, 3))


def test_add_update_delete_by_key() -> None:
    m = Mirror()
    assert m.apply(sa_message(1, msg_type=MsgType.ADD))
    assert m.apply(sa_message(1, msg_type=MsgType.UPDATE, state=2))
    assert m.sad.total == 1 and m.sad.row_at(0).state_name == "dying"
    assert not m.apply(sa_message(1, msg_type=MsgType.ADD).without(ExtType.LIFETIME_CURRENT))
    assert m.apply(sa_message(1, msg_type=MsgType.DELETE))
    assert m.sad.total == 0


def test_soft_then_hard_expire() -> None:
    m = Mirror()
    m.apply(sa_message(5, msg_type=MsgType.ADD))
    soft = sa_message(5, msg_type=MsgType.EXPIRE).with_ext(LifetimeExt(ExtType.LIFETIME_SOFT, 0, 0, 30, 0))
    soft = soft.without(ExtType.LIFETIME_HARD)
    assert m.apply(soft)
    assert m.sad.row_at(0).state_name == "dying"
    hard = sa_message(5, msg_type=MsgType.EXPIRE, hard=60)
    assert m.apply(hard)
    assert m.sad.total == 0


def test_flush_per_protocol_and_spd() -> None:
    m = Mirror()
    m.load_sad([sa_message(i) for i in range(10)])
    m.load_spd([sp_message(i) for i in range(4)])
    assert not m.apply(header_only(MsgType.FLUSH, 2))  # no AH SAs
    assert m.apply(header_only(MsgType.FLUSH, 3))
    assert m.sad.total == 0
    pol = m.spd.row_at(0).msg.get(ExtType.X_POLICY)
    assert isinstance(pol, PolicyExt)
    delete2 = Message(MsgType.X_SPDDELETE2, 0, extensions=(LifetimeExt(ExtType.LIFETIME_CURRENT), pol))
    assert m.apply(delete2)
    assert m.spd.total == 3
    assert m.apply(header_only(MsgType.X_SPDFLUSH))
    assert m.spd.total == 0


def test_batch_coalesces_per_key_and_keeps_flush_order() -> None:
    m = Mirror()
    batch = [sa_message(1, msg_type=MsgType.ADD, state=s) for s in (0, 1, 2)]
    batch += [header_only(MsgType.FLUSH, 0), sa_message(2, msg_type=MsgType.ADD)]
    batch += [sa_message(3, msg_type=MsgType.ADD), sa_message(3, msg_type=MsgType.DELETE)]
    applied = m.apply_batch(batch)
    assert applied == 3  # SA 1 (its last state), the flush, SA 2; SA 3 came and went: only its delete ran
    assert [r.spi for r in m.sad.rows.values()] == [0x1002]


def test_rows_from_wire_bytes() -> None:
    msg = sa_message(7, msg_type=MsgType.ADD)
    raw = msg.encode()
    m = Mirror()
    m.apply(decode(raw))
    row = m.sad.row_at(0)
    assert row.msg.encode() == raw and row.src == "10.0.0.7" and row.dst == "172.16.0.7"
    assert (row.enc_name, row.auth_name, row.mode_name, row.reqid) == ("aes-cbc", "hmac-sha256", "transport", 7)


ops = st.lists(st.tuples(st.sampled_from(["add", "del", "sort", "filter"]), st.integers(0, 40)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_incremental_order_equals_a_fresh_sort(steps: list[tuple[str, int]]) -> None:
    m = Mirror()
    cols = [c.name for c in m.sad.columns]
    filters = [None, "state:dying", "dst:172.16.0.0/28", "spi:0x1005", "aes"]
    for op, n in steps:
        if op == "add":
            m.apply(sa_message(n, msg_type=MsgType.ADD, state=n % 3, addtime=1_700_000_000 + n % 7,
                               hard=n % 5 * 10))
        elif op == "del":
            m.apply(sa_message(n, msg_type=MsgType.DELETE))
        elif op == "sort":
            m.sad.set_sort(cols[n % len(cols)], reverse=bool(n % 2))
        else:
            text = filters[n % len(filters)]
            m.sad.set_filter(parse_filter(text, "sad") if text else None)
    shown = [m.sad.row_at(i).key for i in range(len(m.sad))]
    pred = m.sad.predicate or (lambda r: True)
    col = m.sad.sort_column
    expect = sorted((r for r in m.sad.rows.values() if pred(r)), key=lambda r: (col.sort_value(r), r.key))
    keys = [r.key for r in expect]
    if m.sad.reverse:
        keys.reverse()
    assert shown == keys
    for i, k in enumerate(shown):
        assert m.sad.index_of(k) == i
    assert m.sa_counts() == Counter(r.state_name for r in m.sad.rows.values())


def test_filters() -> None:
    rows = [SARow(sa_message(i, state=i % 3)) for i in range(20)]
    pick = lambda text: [r.spi - 0x1000 for r in rows if parse_filter(text, "sad")(r)]  # noqa: E731
    assert pick("spi:0x1005") == [5]
    assert pick("spi:4101") == [5]
    assert pick("state:dying") == [2, 5, 8, 11, 14, 17]
    assert pick("dst:172.16.0.0/30") == [0, 1, 2, 3]
    assert pick("src:10.0.0.3 proto:esp") == [3]
    assert pick("!state:mature state:dying reqid:5") == [5]
    assert pick("10.0.0.1") == [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    assert parse_filter("  ", "sad") is None
    for bad, why in (("spi:zz", "number"), ("state:sleepy", "one of"), ("dst:300.1.1.1", "network"),
                     ("colour:red", "unknown SAD field"), ("spi:", "value"), ('"unclosed', "quotation")):
        try:
            parse_filter(bad, "sad")
        except FilterError as exc:
            assert why in str(exc), (bad, str(exc))
        else:
            raise AssertionError(f"{bad} accepted")
    sps = [Mirror().spd.row_type(sp_message(i, direction=1 + i % 3)) for i in range(6)]
    assert [p.dir_name for p in sps if parse_filter("dir:out", "spd")(p)] == ["out", "out"]
    assert len([p for p in sps if parse_filter("dst:172.16.0.0/16 action:ipsec proto:esp", "spd")(p)]) == 6
    assert [p.spid for p in sps if parse_filter("reqid:3", "spd")(p)] == [8 * 3 + 1]


def _same_row(a: object, b: object) -> None:
    for name in a.__slots__:  # type: ignore[attr-defined]
        if not name.startswith("_"):
            assert getattr(a, name) == getattr(b, name), name
    for name in ("msg", "src", "dst", "search_text"):
        va, vb = getattr(a, name), getattr(b, name)
        assert (va() if callable(va) else va) == (vb() if callable(vb) else vb), name


def test_rows_scanned_from_bytes_equal_rows_from_decoded_messages() -> None:
    import ipaddress

    from setkey_tui.mirror import SPRow
    from setkey_tui.pfkey.constants import Mode
    from setkey_tui.pfkey.extensions import AddressExt, IpsecRequest, Sockaddr
    from setkey_tui.pfkey.platform import FREEBSD, LINUX
    from setkey_tui.rowscan import RowScanner

    def v6(m: Message) -> Message:
        exts = []
        for e in m.extensions:
            if isinstance(e, AddressExt):
                ip = ipaddress.IPv6Address("fd00::") + int.from_bytes(e.sockaddr.addr, "big")
                e = e._replace(sockaddr=Sockaddr(10, 500, ip.packed, scope_id=2), prefixlen=64)
            exts.append(e)
        return m._replace(extensions=tuple(exts))

    def tunnel(m: Message) -> Message:
        pol = m.get(ExtType.X_POLICY)
        req = IpsecRequest(50, Mode.TUNNEL, 3, 9, Sockaddr(2, 0, b"\xc0\x00\x02\x01"),
                           Sockaddr(2, 0, b"\xc0\x00\x02\x02"))
        return m.with_ext(pol._replace(requests=(req, pol.requests[0])))

    sas = [sa_message(i, soft=i % 3 * 10, hard=i % 2 * 20, state=i % 4) for i in range(40)]
    sas += [v6(m) for m in sas[:10]] + [sa_message(7).without(ExtType.ADDRESS_SRC, ExtType.X_SA2)]
    sps = [sp_message(i, direction=1 + i % 3) for i in range(20)]
    sps += [v6(m) for m in sps[:5]] + [tunnel(m) for m in sps[:5]] + [sps[0].without(ExtType.LIFETIME_CURRENT)]
    scanner = RowScanner(LINUX)
    for m in sas:
        data = m.encode(LINUX)
        row = scanner.sa_row(data)
        assert row is not None
        _same_row(row, SARow(decode(data, LINUX)))
    for m in sps:
        data = m.encode(LINUX)
        row = scanner.sp_row(data)
        assert row is not None
        _same_row(row, SPRow(decode(data, LINUX)))
    assert scanner.sa_row(sas[0].encode(LINUX)[:-8]) is None  # a length that does not add up
    assert scanner.sa_row(sas[0]._replace(errno=2).encode(LINUX)) is None
    assert RowScanner(FREEBSD).sa_row(sas[0].encode(FREEBSD)) is None  # BSD sockaddrs: decoded instead


def test_add_many_merges_into_the_sorted_order_and_replaces_by_key() -> None:
    from setkey_tui.mirror import Table

    m = Mirror()
    m.sad.set_sort("spi")
    rows = [SARow(sa_message(i)) for i in range(100)]
    m.sad.add_many(rows[50:])
    m.sad.add_many(rows[:50] + [SARow(sa_message(60, state=2))])
    assert [m.sad.row_at(i).spi for i in range(len(m.sad))] == [0x1000 + i for i in range(100)]
    assert m.sad.counts == Counter({"mature": 99, "dying": 1})
    t: Table[SARow] = Mirror().sad
    t.add_many([SARow(sa_message(1)), SARow(sa_message(1, state=2))])  # the same key twice in one batch
    assert len(t) == 1 and t.total == 1 and t.row_at(0).state_name == "dying"


def test_progressive_load_shows_rows_then_swaps_a_reload() -> None:
    m = Mirror()
    assert m.sad.loading  # nothing known yet: an empty table is not "empty"
    m.begin_load("sad")
    m.load_rows("sad", [SARow(sa_message(i)) for i in range(3)])
    assert m.sad.total == 3 and m.loading and m.sad.loading  # on screen while the dump goes on
    m.end_load("sad")
    assert not m.sad.loading and not m.loading
    m.begin_load("sad")  # a reload: the old rows stay until the new dump is complete
    m.load_rows("sad", [SARow(sa_message(7))])
    assert m.sad.total == 3 and m.sad.loading
    m.end_load("sad")
    assert [r.spi for r in m.sad.rows.values()] == [0x1007]
