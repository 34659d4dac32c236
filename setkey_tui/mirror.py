"""The in-memory SAD and SPD the screens show, kept up to date from kernel messages.

Every change is a diff by key (an SA is ``(satype, dst, spi)``, a policy is its selector plus direction):
an upsert or a removal. Each :class:`Table` keeps its rows in a dict and, beside it, the keys of the rows
that pass the current filter in sorted order, maintained by bisection so that one change costs O(log n)
comparisons plus a list shift, never a re-sort. Only a new sort column or a new filter re-sorts.

What counts as the kernel's word: a message without errno that carries a ``LIFETIME_CURRENT`` extension
(the kernel adds it to every SA/SP it reports; a request copied to a promiscuous socket has none), any
``EXPIRE``/``X_SPDEXPIRE`` and any ``FLUSH``/``X_SPDFLUSH``.

A row holds the columns' values and the message (or its bytes); ``row.model`` is the program's typed view of
the entry (:mod:`setkey_tui.model`), made on demand; ``row.key`` is the model's key. The columns themselves
are in :mod:`setkey_tui.tui.columns`, the SA↔policy matching in :mod:`setkey_tui.matching` (both names stay
importable from here).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from setkey_tui.algorithms import COMP_NAMES
from setkey_tui.matching import request_matches
from setkey_tui.model import (
    PolicyKey,
    SAKey,
    SecurityAssociation,
    SecurityPolicy,
    address_order,
    policy_key,
    sa_key,
)
from setkey_tui.pfkey.constants import (
    AUTH_ALGS,
    ENC_ALGS,
    IPSEC_PROTO_ANY,
    IPSEC_PROTOS,
    LEVELS,
    MODES,
    POLICY_TYPES,
    PRIORITY_DEFAULT,
    SA_STATES,
    SA_TYPES,
    ExtType,
    MsgType,
    SAState,
    SAType,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    IpsecRequest,
    LifetimeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    Sockaddr,
)
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import Platform
from setkey_tui.pfkey.wire import codec_for
from setkey_tui.render.names import POLICY_DIR_NAMES, UPPER_PROTOCOL_WORDS
from setkey_tui.tui.columns import SA_COLUMNS, SP_COLUMNS, Column

# The words the tables show, read once from the constants' name tables (a dict lookup per row, no call).
AUTH_NAMES: dict[int, str] = dict(AUTH_ALGS.items())
ENC_NAMES: dict[int, str] = dict(ENC_ALGS.items())
PROTO_NAMES: dict[int, str] = dict(SA_TYPES.items())
MODE_NAMES: dict[int, str] = dict(MODES.items())
STATE_NAMES: dict[int, str] = dict(SA_STATES.items())
# setkey's own direction words: Linux's socket policies (4, 5) are in(socket)/out(socket).
DIR_NAMES: dict[int, str] = POLICY_DIR_NAMES
ACTION_NAMES: dict[int, str] = dict(POLICY_TYPES.items())
LEVEL_NAMES: dict[int, str] = dict(LEVELS.items())
IPPROTO_NAMES: dict[int, str] = UPPER_PROTOCOL_WORDS
# A request's protocol; 255 (IPSEC_PROTO_ANY, not an IPsec protocol of the constants) reads "any" here, the
# word the setkey language accepts for it.
REQ_PROTO_NAMES: dict[int, str] = {**dict(IPSEC_PROTOS.items()), IPSEC_PROTO_ANY: "any"}

# Messages that change an entry. Answers to DUMP/GET (ours or another process's, copied to the promiscuous
# socket) describe entries without changing them: the mirror takes dumps only through load_sad/load_spd.
SA_CONTENT_TYPES = frozenset({MsgType.ADD, MsgType.UPDATE, MsgType.GETSPI})
SP_CONTENT_TYPES = frozenset({MsgType.X_SPDADD, MsgType.X_SPDUPDATE, MsgType.X_SPDSETIDX})
SP_DELETE_TYPES = frozenset({MsgType.X_SPDDELETE, MsgType.X_SPDDELETE2, MsgType.X_SPDEXPIRE})


def alg_name(satype: int, kind: str, num: int) -> str:
    """The setkey name of an algorithm number (``enc`` or ``auth``); IPComp's ``enc`` is its compression."""
    if kind == "auth":
        return "" if num == 0 else AUTH_NAMES.get(num, str(num))
    if satype == SAType.IPCOMP:
        return COMP_NAMES.get(num, str(num))
    if satype == SAType.AH:
        return ""
    return ENC_NAMES.get(num, str(num))


def _addr_sort(sa: Sockaddr | None) -> tuple[int, int]:
    return (0, 0) if sa is None else address_order(sa.addr)


_ADDRESSES: dict[bytes, AddressExt] = {}  # an address extension's bytes -> decoded (rows share them)
_ADDRESSES_MAX = 65536


def address_ext(raw: bytes, platform: Platform | None) -> AddressExt:
    """The address extension whose wire bytes are ``raw`` (decoded once, then shared)."""
    x = _ADDRESSES.get(raw)
    if x is None:
        assert platform is not None
        codec = codec_for(platform)
        etype = int.from_bytes(raw[2:4], "little" if platform.byteorder == "<" else "big")
        ext = codec.decode_ext(raw, 0, len(raw), etype)
        assert isinstance(ext, AddressExt)
        x = ext
        if len(_ADDRESSES) >= _ADDRESSES_MAX:
            _ADDRESSES.clear()
        _ADDRESSES[raw] = x
    return x


def _endpoint_text(ext: AddressExt | None, *, full_prefix: bool, with_port: bool) -> str:
    if ext is None:
        return "?"
    sa = ext.sockaddr
    text = sa.text()
    bits = 32 if sa.version == 4 else 128
    if full_prefix or ext.prefixlen != bits:
        text += f"/{ext.prefixlen}"
    if with_port:
        text += f"[{sa.port if sa.port else 'any'}]"
    elif sa.port:
        text += f"[{sa.port}]"
    return text


def is_kernel_word(msg: Message) -> bool:
    """True when ``msg`` states what the kernel holds (see the module docstring)."""
    if msg.errno:
        return False
    if msg.type in (MsgType.EXPIRE, MsgType.X_SPDEXPIRE, MsgType.FLUSH, MsgType.X_SPDFLUSH):
        return True
    return ExtType.LIFETIME_CURRENT in msg


def _lifetime(msg: Message, ext_type: int) -> LifetimeExt | None:
    for e in msg.extensions:
        if e.ext_type == ext_type:
            return e if isinstance(e, LifetimeExt) else None
    return None


def sa_key_of(msg: Message) -> SAKey:
    """The SAD key of an SA message (:func:`setkey_tui.model.sa_key`); ValueError without SA or destination."""
    sa = dst = None
    for e in msg.extensions:
        t = e.ext_type
        if t == ExtType.SA:
            sa = e
        elif t == ExtType.ADDRESS_DST:
            dst = e
    if not isinstance(sa, SAExt) or not isinstance(dst, AddressExt):
        raise ValueError(f"{msg.type_name} message without an SA or destination address")
    return sa_key(int(msg.satype), dst.sockaddr.addr, sa.spi)


class KernelRow:
    """What every table row holds beside its columns: the kernel's message, or its wire bytes and platform
    (a row :mod:`setkey_tui.rowscan` built from a dump), decoded when asked for."""

    __slots__ = ("_msg", "_raw", "_platform")

    _msg: Message | None
    _raw: bytes | None
    _platform: Platform | None

    @property
    def msg(self) -> Message:
        """The entry's message as the kernel sent it (decoded now when the row was built from bytes)."""
        if self._msg is not None:
            return self._msg
        assert self._raw is not None
        return decode(self._raw, self._platform)


class SARow(KernelRow):
    """One SA as the SAD table shows it: the columns' values, read once; the whole message on demand.

    Built from a decoded message (``SARow(msg)``) or, for dumps, straight from the wire bytes by
    :mod:`setkey_tui.rowscan` (then ``msg`` is decoded from the kept bytes when asked for)."""

    __slots__ = ("key", "satype", "spi", "state", "enc", "auth", "mode", "reqid", "addtime", "usetime", "bytes",
                 "soft_add", "hard_add", "hard_bytes", "src_sort", "_src", "_dst", "_search")

    key: SAKey
    satype: int
    spi: int
    state: int
    enc: int
    auth: int
    mode: int  # sadb_x_sa2_mode (0 when absent)
    reqid: int  # sadb_x_sa2_reqid (0 when absent)
    addtime: int  # when the SA was added (epoch seconds; 0 when unknown)
    usetime: int  # when it was first used (0: not yet)
    bytes: int  # bytes processed so far
    soft_add: int  # soft addtime lifetime in seconds (0: none)
    hard_add: int  # hard addtime lifetime in seconds (0: none)
    hard_bytes: int  # hard byte lifetime (0: none)
    src_sort: tuple[int, int]  # the source address as (length, value), for sorting

    def __init__(self, msg: Message) -> None:
        sa = src = dst = sa2 = cur = soft = hard = None
        for e in msg.extensions:
            t = e.ext_type
            if t == ExtType.SA:
                sa = e
            elif t == ExtType.LIFETIME_CURRENT:
                cur = e
            elif t == ExtType.LIFETIME_HARD:
                hard = e
            elif t == ExtType.LIFETIME_SOFT:
                soft = e
            elif t == ExtType.ADDRESS_SRC:
                src = e
            elif t == ExtType.ADDRESS_DST:
                dst = e
            elif t == ExtType.X_SA2:
                sa2 = e
        if not isinstance(sa, SAExt) or not isinstance(dst, AddressExt):
            raise ValueError(f"{msg.type_name} message without an SA or destination address")
        self._msg = msg
        self._raw = None
        self._platform = None
        self.satype = msg.satype
        self.spi = sa.spi
        self.state = sa.state
        self.enc = sa.encrypt
        self.auth = sa.auth
        self._src: AddressExt | bytes | None = src if isinstance(src, AddressExt) else None
        self._dst: AddressExt | bytes = dst
        self.src_sort = _addr_sort(src.sockaddr) if isinstance(src, AddressExt) else (0, 0)
        if isinstance(sa2, SA2Ext):
            self.mode, self.reqid = sa2.mode, sa2.reqid
        else:
            self.mode = self.reqid = 0
        c = cur if isinstance(cur, LifetimeExt) else None
        self.addtime = c.addtime if c else 0
        self.usetime = c.usetime if c else 0
        self.bytes = c.byte_count if c else 0
        self.soft_add = soft.addtime if isinstance(soft, LifetimeExt) else 0
        h = hard if isinstance(hard, LifetimeExt) else None
        self.hard_add = h.addtime if h else 0
        self.hard_bytes = h.byte_count if h else 0
        self.key = sa_key(int(msg.satype), dst.sockaddr.addr, sa.spi)
        self._search: str | None = None

    @property
    def model(self) -> SecurityAssociation:
        """The SA as the program's typed view (:class:`~setkey_tui.model.SecurityAssociation`), made from the
        message when asked for and not kept (a table of 100k rows holds only the columns' values);
        :class:`~setkey_tui.model.ModelError` when the message lacks the source address."""
        return SecurityAssociation.from_message(self.msg)

    @property
    def src_ext(self) -> AddressExt | None:
        """The source address extension (None when the message had none)."""
        x = self._src
        return address_ext(x, self._platform) if isinstance(x, bytes) else x

    @property
    def dst_ext(self) -> AddressExt:
        """The destination address extension."""
        x = self._dst
        return address_ext(x, self._platform) if isinstance(x, bytes) else x

    @property
    def src(self) -> str:
        """Source address text (``/prefix`` when not a host, ``[port]`` when set)."""
        return _endpoint_text(self.src_ext, full_prefix=False, with_port=False)

    @property
    def dst(self) -> str:
        """Destination address text."""
        return _endpoint_text(self.dst_ext, full_prefix=False, with_port=False)

    @property
    def src_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The source address, or None when the message had none."""
        return self.src_ext.sockaddr.ip if self.src_ext is not None else None

    @property
    def dst_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        """The destination address."""
        return self.dst_ext.sockaddr.ip

    @property
    def sport(self) -> int:
        """Source port (0 = any)."""
        return self.src_ext.sockaddr.port if self.src_ext is not None else 0

    @property
    def dport(self) -> int:
        """Destination port (0 = any)."""
        return self.dst_ext.sockaddr.port

    @property
    def proto(self) -> str:
        """``esp``, ``ah``, ``ipcomp``, ``tcp`` or the number."""
        return PROTO_NAMES.get(self.satype, str(self.satype))

    @property
    def state_name(self) -> str:
        """``larval``, ``mature``, ``dying`` or ``dead``."""
        return STATE_NAMES.get(self.state, str(self.state))

    @property
    def mode_name(self) -> str:
        """``transport``, ``tunnel``, ``any`` or ``beet``."""
        return MODE_NAMES.get(self.mode, str(self.mode))

    @property
    def enc_name(self) -> str:
        """The -E (or -C for IPComp) algorithm name; empty for AH."""
        return alg_name(self.satype, "enc", self.enc)

    @property
    def auth_name(self) -> str:
        """The -A algorithm name; empty when none."""
        return alg_name(self.satype, "auth", self.auth)

    def soft_deadline(self) -> int | None:
        """When the soft addtime lifetime runs out (epoch seconds), or None."""
        return self.addtime + self.soft_add if self.soft_add and self.addtime else None

    def hard_deadline(self) -> int | None:
        """When the hard addtime lifetime runs out (epoch seconds), or None."""
        return self.addtime + self.hard_add if self.hard_add and self.addtime else None

    def search_text(self) -> str:
        """Lower-case text of the row for free-text filtering."""
        if self._search is None:
            self._search = " ".join((self.src, self.dst, self.proto, f"0x{self.spi:08x}", str(self.spi),
                                     self.mode_name, str(self.reqid), self.enc_name, self.auth_name,
                                     self.state_name)).lower()
        return self._search


def _request_text(r: IpsecRequest) -> str:
    proto = REQ_PROTO_NAMES.get(r.proto, str(r.proto))
    mode = MODE_NAMES.get(r.mode, str(r.mode))
    ends = ""
    if r.src is not None and r.dst is not None and (r.src.addr.strip(b"\0") or r.dst.addr.strip(b"\0")):
        ends = f"{r.src.text()}-{r.dst.text()}"
    level = LEVEL_NAMES.get(r.level, str(r.level))
    if r.level == 3 and r.reqid:
        level = f"unique:{r.reqid}"
    return f"{proto}/{mode}/{ends}/{level}"


def priority_text(priority: int) -> str:
    """``def``, ``def+10``, ``def-5`` for Linux-style priorities near the default, else the number."""
    delta = priority - PRIORITY_DEFAULT
    if delta == 0:
        return "def"
    if abs(delta) < 0x40000000:
        return f"def{delta:+d}"
    return str(priority)


class SPRow(KernelRow):
    """One security policy as the SPD table shows it: the columns' values, read once; the rest on demand.

    Built from a decoded message (``SPRow(msg)``) or, for dumps, straight from the wire bytes by
    :mod:`setkey_tui.rowscan`."""

    __slots__ = ("key", "sport", "dport", "upper", "dir", "action", "priority", "spid", "addtime", "_search",
                 "_requests")

    key: PolicyKey
    sport: int
    dport: int
    upper: int
    dir: int
    action: int
    priority: int
    spid: int
    addtime: int

    def __init__(self, msg: Message) -> None:
        src = msg.get(ExtType.ADDRESS_SRC)
        dst = msg.get(ExtType.ADDRESS_DST)
        pol = msg.get(ExtType.X_POLICY)
        cur = msg.get(ExtType.LIFETIME_CURRENT)
        if not isinstance(pol, PolicyExt) or not isinstance(src, AddressExt) or not isinstance(dst, AddressExt):
            raise ValueError(f"{msg.type_name} message without a policy or its addresses")
        self._msg = msg
        self._raw = None
        self._platform = None
        self.sport = src.sockaddr.port
        self.dport = dst.sockaddr.port
        self.upper = src.proto
        self.dir = pol.dir
        self.action = pol.policy_type
        self.priority = pol.priority
        self.spid = pol.id
        self.addtime = cur.addtime if isinstance(cur, LifetimeExt) else 0
        self.key = policy_key(src.sockaddr.addr, src.prefixlen, self.sport, dst.sockaddr.addr, dst.prefixlen,
                              self.dport, self.upper, pol.dir)
        self._search: str | None = None
        self._requests: str | None = None

    @property
    def model(self) -> SecurityPolicy:
        """The policy as the program's typed view (:class:`~setkey_tui.model.SecurityPolicy`), made from the
        message when asked for and not kept."""
        return SecurityPolicy.from_message(self.msg)

    def _ends(self) -> tuple[AddressExt, AddressExt]:
        src, dst = self.msg.get(ExtType.ADDRESS_SRC), self.msg.get(ExtType.ADDRESS_DST)
        assert isinstance(src, AddressExt) and isinstance(dst, AddressExt)
        return src, dst

    @property
    def src(self) -> str:
        """``10.0.0.0/24[any]``."""
        return _endpoint_text(self._ends()[0], full_prefix=True, with_port=True)

    @property
    def dst(self) -> str:
        """``10.1.0.0/24[443]``."""
        return _endpoint_text(self._ends()[1], full_prefix=True, with_port=True)

    @property
    def src_net(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        """The source range."""
        return _net(self.key[0], self.key[1], self.key[2])

    @property
    def dst_net(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        """The destination range."""
        return _net(self.key[4], self.key[5], self.key[6])

    @property
    def requests(self) -> str:
        """The requests as setkey writes them: ``esp/tunnel/A-B/require …``."""
        if self._requests is None:
            pol = self.msg.get(ExtType.X_POLICY)
            reqs = pol.requests if isinstance(pol, PolicyExt) else ()
            self._requests = " ".join(_request_text(r) for r in reqs)
        return self._requests

    @property
    def reqids(self) -> frozenset[int]:
        """The reqids its requests name."""
        pol = self.msg.get(ExtType.X_POLICY)
        return frozenset(r.reqid for r in pol.requests if r.reqid) if isinstance(pol, PolicyExt) else frozenset()

    @property
    def upper_name(self) -> str:
        """The upper-layer protocol name (``any``, ``tcp``, ``icmp6`` …)."""
        return IPPROTO_NAMES.get(self.upper, str(self.upper))

    @property
    def dir_name(self) -> str:
        """``in``, ``out``, ``fwd`` or ``any``."""
        return DIR_NAMES.get(self.dir, str(self.dir))

    @property
    def action_name(self) -> str:
        """``ipsec``, ``discard``, ``none`` …"""
        return ACTION_NAMES.get(self.action, str(self.action))

    def search_text(self) -> str:
        """Lower-case text of the row for free-text filtering."""
        if self._search is None:
            self._search = " ".join((self.src, self.dst, self.upper_name, self.dir_name, self.action_name,
                                     priority_text(self.priority), self.requests, str(self.spid))).lower()
        return self._search


def _net(length: int, value: int, prefixlen: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    ip = ipaddress.IPv4Address(value) if length == 4 else ipaddress.IPv6Address(value)
    return ipaddress.ip_network((ip, prefixlen), strict=False)


Row = TypeVar("Row", SARow, SPRow)


class Table(Generic[Row]):
    """Rows by key, plus the sorted, filtered order the view shows (maintained incrementally)."""

    def __init__(self, columns: tuple[Column, ...], row_type: type[Row],
                 count_by: Callable[[Row], str] | None = None) -> None:
        self.columns = columns
        self.row_type: type[Row] = row_type
        self.count_by: Callable[[Row], str] | None = count_by
        self.counts: Counter[str] = Counter()  # rows by count_by (kept up to date on every change)
        self.rows: dict[tuple[int, ...], Row] = {}
        self.sort_column: Column = columns[0]
        self.reverse = False
        self.predicate: Callable[[Row], bool] | None = None
        self._order: list[tuple[Any, tuple[int, ...]]] = []
        self.generation = 0  # bumped on every change: views repaint when it moves
        # True until the first dump of this table is complete, and while a later one is in flight: an empty
        # table then means "not known yet", not "empty".
        self.loading = True

    # -- view ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._order)

    @property
    def total(self) -> int:
        """Rows held, filtered out ones included."""
        return len(self.rows)

    def row_at(self, index: int) -> Row:
        """The row shown at ``index`` (0 = top) in the current sort and filter."""
        n = len(self._order)
        if self.reverse:
            index = n - 1 - index
        return self.rows[self._order[index][1]]

    def index_of(self, key: tuple[int, ...]) -> int | None:
        """Where the row with ``key`` is shown, or None when absent or filtered out."""
        row = self.rows.get(key)
        if row is None:
            return None
        item = (self.sort_column.sort_value(row), key)
        i = bisect.bisect_left(self._order, item)
        if i < len(self._order) and self._order[i] == item:
            return len(self._order) - 1 - i if self.reverse else i
        return None

    def _entry(self, row: Row) -> tuple[Any, tuple[int, ...]]:
        return (self.sort_column.sort_value(row), row.key)

    def _visible(self, row: Row) -> bool:
        return self.predicate is None or self.predicate(row)

    def _rebuild(self) -> None:
        pred = self.predicate
        rows: Iterable[Row] = self.rows.values() if pred is None else filter(pred, self.rows.values())
        sv = self.sort_column.sort_value
        self._order = sorted((sv(r), r.key) for r in rows)
        self.generation += 1

    def set_sort(self, column: str, reverse: bool | None = None) -> None:
        """Sort by ``column`` (its name); the same column again flips the direction unless told."""
        col = next((c for c in self.columns if c.name == column), None)
        if col is None:
            raise KeyError(column)
        if reverse is None:
            reverse = not self.reverse if col is self.sort_column else False
        same = col is self.sort_column
        self.sort_column = col
        self.reverse = reverse
        if not same:
            self._rebuild()
        else:
            self.generation += 1

    def set_filter(self, predicate: Callable[[Row], bool] | None) -> None:
        """Show only the rows ``predicate`` accepts (None: all)."""
        self.predicate = predicate
        self._rebuild()

    # -- changes -------------------------------------------------------------------------------------
    def upsert(self, row: Row) -> None:
        """Insert ``row`` or replace the row with its key."""
        old = self.rows.get(row.key)
        if old is not None:
            self._drop_from_order(old)
            self._count(old, -1)
        self._count(row, 1)
        self.rows[row.key] = row
        if self._visible(row):
            bisect.insort(self._order, self._entry(row))
        self.generation += 1

    def add_many(self, rows: list[Row]) -> None:
        """Insert (or replace) many rows: one merge into the sorted order instead of a bisection per row."""
        if not rows:
            return
        have = self.rows
        fresh: dict[tuple[int, ...], Row] = {}
        for row in rows:
            k = row.key
            if k in fresh or k not in have:
                fresh[k] = have[k] = row
            else:
                self.upsert(row)
        if not fresh:
            return
        if self.count_by is not None:
            self.counts.update(map(self.count_by, fresh.values()))
        pred = self.predicate
        sv = self.sort_column.sort_value
        entries = sorted((sv(r), r.key) for r in fresh.values() if pred is None or pred(r))
        order = self._order
        if entries:
            if not order or order[-1] < entries[0]:
                order.extend(entries)
            else:
                order.extend(entries)
                order.sort()  # two sorted runs: a linear merge
        self.generation += 1

    def _drop_from_order(self, row: Row) -> None:
        item = self._entry(row)
        i = bisect.bisect_left(self._order, item)
        if i < len(self._order) and self._order[i] == item:
            del self._order[i]

    def remove(self, key: tuple[int, ...]) -> Row | None:
        """Remove and return the row with ``key`` (None when absent)."""
        row = self.rows.pop(key, None)
        if row is not None:
            self._drop_from_order(row)
            self._count(row, -1)
            self.generation += 1
        return row

    def _count(self, row: Row, delta: int) -> None:
        if self.count_by is not None:
            k = self.count_by(row)
            n = self.counts[k] + delta
            if n:
                self.counts[k] = n
            else:
                del self.counts[k]

    def _recount(self) -> None:
        if self.count_by is not None:
            self.counts = Counter(map(self.count_by, self.rows.values()))

    def remove_where(self, pred: Callable[[Row], bool]) -> int:
        """Remove every row ``pred`` accepts; returns how many went."""
        doomed = [k for k, r in self.rows.items() if pred(r)]
        for k in doomed:
            del self.rows[k]
        if doomed:
            self._recount()
            self._rebuild()
        return len(doomed)

    def replace_all(self, rows: Iterable[Row]) -> None:
        """Hold exactly ``rows`` (a fresh dump), in one re-sort."""
        self.rows = {r.key: r for r in rows}
        self._recount()
        self._rebuild()


class Mirror:
    """The SAD and the SPD, updated from kernel messages."""

    def __init__(self) -> None:
        self.sad: Table[SARow] = Table(SA_COLUMNS, SARow, lambda r: r.state_name)
        self.spd: Table[SPRow] = Table(SP_COLUMNS, SPRow, lambda r: r.dir_name)
        self.spid_index: dict[int, tuple[int, ...]] = {}
        self._staged: dict[str, list[Any] | None] = {}  # per table being loaded: rows held back, or None

    # -- progressive loading -------------------------------------------------------------------------
    @property
    def loading(self) -> bool:
        """True while a dump is being loaded into either table."""
        return bool(self._staged)

    def loading_table(self, which: str) -> bool:
        """True while a dump is being loaded into ``which`` (``sad`` or ``spd``)."""
        return which in self._staged

    def begin_load(self, which: str) -> None:
        """A dump of ``which`` starts. An empty table shows the rows as they come; a table that holds rows
        keeps showing them and takes the dump's in one swap at :meth:`end_load`."""
        table = self.sad if which == "sad" else self.spd
        self._staged[which] = [] if table.total else None
        table.loading = True
        table.generation += 1

    def load_rows(self, which: str, rows: list[Any]) -> None:
        """The next rows of the dump of ``which``."""
        staged = self._staged.get(which)
        if staged is not None:
            staged.extend(rows)
            return
        if which == "sad":
            self.sad.add_many(rows)
        else:
            self.spd.add_many(rows)
            for r in rows:
                self.spid_index[r.spid] = r.key

    def end_load(self, which: str) -> None:
        """The dump of ``which`` is complete."""
        table = self.sad if which == "sad" else self.spd
        table.loading = False
        table.generation += 1
        if which not in self._staged:
            return
        staged = self._staged.pop(which)
        if staged is None:
            return
        if which == "sad":
            self.sad.replace_all(staged)
        else:
            self.spd.replace_all(staged)
            self.spid_index = {r.spid: r.key for r in self.spd.rows.values()}

    def abort_load(self) -> None:
        """A dump failed: keep what is shown."""
        self._staged.clear()
        self.sad.loading = self.spd.loading = False

    def loaded_without_dump(self) -> None:
        """The tables are known without a dump (a replay starts empty and follows its messages)."""
        self.sad.loading = self.spd.loading = False

    # -- loading -------------------------------------------------------------------------------------
    def load_sad(self, msgs: Iterable[Message]) -> None:
        """Replace the SAD with the SAs of a dump."""
        rows = []
        for m in msgs:
            try:
                rows.append(SARow(m))
            except ValueError:
                continue
        self.sad.replace_all(rows)
        self.sad.loading = False

    def load_spd(self, msgs: Iterable[Message]) -> None:
        """Replace the SPD with the policies of a dump."""
        rows = []
        for m in msgs:
            try:
                rows.append(SPRow(m))
            except ValueError:
                continue
        self.spd.replace_all(rows)
        self.spd.loading = False
        self.spid_index = {r.spid: r.key for r in self.spd.rows.values()}

    # -- events --------------------------------------------------------------------------------------
    @staticmethod
    def event_key(msg: Message) -> tuple[Any, ...] | None:
        """The SA/SP key a message is about (for coalescing), or None for table-wide messages."""
        if not is_kernel_word(msg):
            return None
        return Mirror._event_key(msg)

    @staticmethod
    def _event_key(msg: Message) -> tuple[Any, ...] | None:
        try:
            if msg.type in SA_CONTENT_TYPES or msg.type in (MsgType.DELETE, MsgType.EXPIRE):
                return ("sa", *sa_key_of(msg))
            if msg.type in SP_CONTENT_TYPES or msg.type in SP_DELETE_TYPES:
                pol = msg.get(ExtType.X_POLICY)
                if msg.type == MsgType.X_SPDDELETE2 and isinstance(pol, PolicyExt):
                    return ("spid", pol.id)
                return ("sp", *SPRow(msg).key)
        except (ValueError, TypeError):
            return None
        return None

    def apply(self, msg: Message) -> bool:
        """Apply one kernel message; True when a table changed."""
        if not is_kernel_word(msg):
            return False
        return self._apply(msg)

    def _apply(self, msg: Message) -> bool:
        t = msg.type
        try:
            if t in SA_CONTENT_TYPES:
                self.sad.upsert(SARow(msg))
                return True
            if t == MsgType.DELETE:
                return self.sad.remove(sa_key_of(msg)) is not None
            if t == MsgType.EXPIRE:
                return self._expire(msg)
            if t == MsgType.FLUSH:
                st = msg.satype
                return self.sad.remove_where(lambda r: st == 0 or r.satype == st) > 0
            if t in SP_CONTENT_TYPES:
                row = SPRow(msg)
                self.spd.upsert(row)
                self.spid_index[row.spid] = row.key
                return True
            if t in SP_DELETE_TYPES:
                return self._spdelete(msg)
            if t == MsgType.X_SPDFLUSH:
                self.spid_index.clear()
                return self.spd.remove_where(lambda r: True) > 0
        except (ValueError, TypeError):
            return False
        return False

    def _expire(self, msg: Message) -> bool:
        key = sa_key_of(msg)
        if ExtType.LIFETIME_HARD in msg:
            return self.sad.remove(key) is not None
        old = self.sad.rows.get(key)
        if old is None:
            return False
        # A soft expiry: the SA is now dying; keep everything else we were told about it.
        sa = old.msg.get(ExtType.SA)
        if not isinstance(sa, SAExt):
            return False
        self.sad.upsert(SARow(old.msg.with_ext(sa._replace(state=SAState.DYING))))
        return True

    def _spdelete(self, msg: Message) -> bool:
        pol = msg.get(ExtType.X_POLICY)
        if msg.type == MsgType.X_SPDDELETE2 and isinstance(pol, PolicyExt):
            key = self.spid_index.pop(pol.id, None)
            return key is not None and self.spd.remove(key) is not None
        row = SPRow(msg)
        removed = self.spd.remove(row.key)
        if removed is not None:
            self.spid_index.pop(removed.spid, None)
        return removed is not None

    def apply_batch(self, items: Iterable[Message]) -> int:
        """Apply many messages, coalescing per SA/SP key: only the last message about a key counts,
        table-wide messages (flushes) keep their place. Returns how many messages were applied."""
        pending: dict[tuple[Any, ...], Message] = {}
        applied = 0
        for msg in items:
            if not is_kernel_word(msg):
                continue
            key = self._event_key(msg)
            if key is None:
                for m in pending.values():
                    applied += self._apply(m)
                pending.clear()
                applied += self._apply(msg)
                continue
            if msg.type == MsgType.EXPIRE and ExtType.LIFETIME_HARD not in msg and key in pending:
                # A soft expiry right after an add: apply both, in order.
                applied += self._apply(pending.pop(key))
            pending.pop(key, None)
            pending[key] = msg
        for m in pending.values():
            applied += self._apply(m)
        return applied

    # -- summaries -----------------------------------------------------------------------------------
    def sa_counts(self) -> Counter[str]:
        """SAs by state name."""
        return Counter(self.sad.counts)

    def sp_counts(self) -> Counter[str]:
        """Policies by direction name."""
        return Counter(self.spd.counts)

    def policies_for_sa(self, sa: SARow) -> list[SPRow]:
        """Policies whose requests this SA can serve (see :func:`request_matches`)."""
        out = []
        for p in self.spd.rows.values():
            pol = p.msg.get(ExtType.X_POLICY)
            if isinstance(pol, PolicyExt) and any(request_matches(sa, p, r) for r in pol.requests):
                out.append(p)
        return out

    def sas_for_policy(self, sp: SPRow) -> list[SARow]:
        """SAs that can serve one of the policy's requests."""
        pol = sp.msg.get(ExtType.X_POLICY)
        if not isinstance(pol, PolicyExt):
            return []
        return [s for s in self.sad.rows.values() if any(request_matches(s, sp, r) for r in pol.requests)]


__all__ = [
    "ACTION_NAMES",
    "Column",
    "DIR_NAMES",
    "KernelRow",
    "Mirror",
    "SARow",
    "SA_COLUMNS",
    "SPRow",
    "SP_COLUMNS",
    "Table",
    "request_matches",
    "sa_key_of",
    "alg_name",
    "is_kernel_word",
    "priority_text",
]
