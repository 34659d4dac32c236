"""Statements → the PF_KEY messages ipsec-tools' setkey sends for them, byte for byte (pid aside).

Extension order is setkey's: ``setkeymsg_add`` puts KEY_ENCRYPT, KEY_AUTH, LIFETIME_HARD, LIFETIME_SOFT,
SEC_CTX, SA, SA2, NAT_T_TYPE, NAT_T_OA, then per address pair SRC, DST, NAT_T_SPORT, NAT_T_DPORT.
Key lengths are checked against the kernel's SADB_REGISTER answer (``supported``) or, without one, the
built-in Linux table, with setkey's diagnostics (``Not supported``, ``Invalid key length``).
"""

from __future__ import annotations

from collections.abc import Iterable

from setkey_tui.algorithms import (
    AUTH_BY_NAME,
    COMP_BY_NAME,
    ENC_BY_NAME,
    LINUX_SUPPORTED_AUTH,
    LINUX_SUPPORTED_ENCRYPT,
    find_alg,
)
from setkey_tui.lang import addresses as addr
from setkey_tui.lang.errors import SetkeyParseError
from setkey_tui.lang.grammar import _service, address_flags, error_at, spd_ports, upper_number
from setkey_tui.lang.policy import compile_policy
from setkey_tui.lang.statements import (
    DeleteAllStatement,
    DumpStatement,
    ExitStatement,
    FlushStatement,
    SAStatement,
    SPDDumpStatement,
    SPDFlushStatement,
    SPDStatement,
    SPDTaggedStatement,
    Statement,
    TokenRef,
)
from setkey_tui.pfkey.constants import (
    IPSEC_ULPROTO_ANY,
    NAT_T_DEFAULT_PORT,
    SA_TYPES,
    SADB_X_EXT_CYCSEQ,
    SADB_X_EXT_DERIV,
    SADB_X_EXT_IV4B,
    SADB_X_EXT_OLD,
    SADB_X_EXT_PRAND,
    SADB_X_EXT_PSEQ,
    SADB_X_EXT_PZERO,
    SADB_X_EXT_RAWCPI,
    UDP_ENCAP_ESPINUDP,
    ExtType,
    Level,
    Mode,
    MsgType,
    SAType,
)
from setkey_tui.pfkey.constants import MODES as MODE_TABLE
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Alg,
    Extension,
    KeyExt,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    SecCtxExt,
    Sockaddr,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX, Platform

Supported = tuple[tuple[Alg, ...], tuple[Alg, ...]]

# The protocol words of a statement → sadb_msg_satype (pfkey/constants.py's table knows the -old and esp-udp
# aliases). ``tcp`` is UNSPEC: ipsec-tools on Linux has no SADB_X_SATYPE_TCPSIGNATURE.
SATYPES: dict[str | None, int] = {
    None: SAType.UNSPEC,
    **{w: SA_TYPES.value(w) for w in ("esp", "esp-old", "esp-udp", "ah", "ah-old", "ipcomp")},
    "tcp": SAType.UNSPEC,
}
MODES: dict[str | None, int] = {None: Mode.ANY, **{MODE_TABLE.name(m): m for m in (Mode.ANY, Mode.TRANSPORT,
                                                                                  Mode.TUNNEL)}}
PAD_FLAGS = {"zero-pad": SADB_X_EXT_PZERO, "random-pad": SADB_X_EXT_PRAND, "seq-pad": SADB_X_EXT_PSEQ}


def _fail(message: str, ref: TokenRef | None, *, stderr_lines: tuple[str, ...] = ()) -> SetkeyParseError:
    if ref is None:
        return SetkeyParseError(message, 0, 1, "", stderr_lines=stderr_lines)
    return error_at(message, ref, stderr_lines=stderr_lines)


def check_keylen(algs: tuple[Alg, ...], alg_id: int, key: bytes, ref: TokenRef | None) -> None:
    """libipsec's ipsec_check_keylen: the algorithm must be listed and the key's bits within its range."""
    alg = find_alg(algs, alg_id)
    if alg is None:
        raise _fail("Not supported", ref)
    bits = len(key) * 8
    if bits < alg.minbits or bits > alg.maxbits:
        raise _fail("Invalid key length", ref, stderr_lines=(f"{bits} {alg.minbits} {alg.maxbits}",))


def sa_flags(stmt: SAStatement) -> int:
    """sadb_sa_flags as setkey computes them (CYCSEQ, -old, -f pads, des-deriv/32iv, -R)."""
    flags = SADB_X_EXT_CYCSEQ
    if stmt.protocol in ("esp-old", "ah-old"):
        flags |= SADB_X_EXT_OLD
    for f in stmt.options.flags:
        if f == "nocyclic-seq":
            flags &= ~SADB_X_EXT_CYCSEQ
        else:
            flags |= PAD_FLAGS[f]
    if stmt.enc == "des-deriv":
        flags |= SADB_X_EXT_DERIV
    elif stmt.enc == "des-32iv":
        flags |= SADB_X_EXT_IV4B
    if stmt.rawcpi:
        flags |= SADB_X_EXT_RAWCPI
    return flags


def _addresses(host: str, port: str | None, family: int, numeric: bool,
               ref: TokenRef | None) -> tuple[addr.AddrInfo, ...]:
    try:
        return addr.resolve(host, _service(port), family=family, numeric=numeric)
    except addr.ResolveError as exc:
        raise _fail(str(exc), ref) from None


def _pairs(srcs: Iterable[addr.AddrInfo], dsts: Iterable[addr.AddrInfo]) -> list[tuple[addr.AddrInfo, addr.AddrInfo]]:
    dst_list = list(dsts)
    return [(s, d) for s in srcs for d in dst_list if s[0] == d[0]]


def _address_ext(ext_type: int, info: addr.AddrInfo, proto: int, prefixlen: int, platform: Platform) -> AddressExt:
    return AddressExt(ext_type, addr.to_sockaddr(info, platform), proto, prefixlen & 0xFF)


def _sa_head(stmt: SAStatement, spi: int, auth: int, enc: int) -> tuple[SAExt, SA2Ext]:
    o = stmt.options
    return (SAExt(spi, (o.replay or 0) & 0xFF, 0, auth, enc, sa_flags(stmt)),
            SA2Ext(MODES[o.mode], (o.reqid or 0) & 0xFFFFFFFF))


def _compile_add(stmt: SAStatement, platform: Platform, supported: Supported | None) -> list[Message]:
    auth_algs, enc_algs = supported or (LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT)
    src = stmt.source
    satype = SATYPES[stmt.protocol]
    enc_id = auth_id = 0
    head: list[Extension] = []
    if stmt.enc is not None:
        enc_id = ENC_BY_NAME[stmt.enc]
        key = stmt.enc_key if stmt.enc_key is not None else b""
        check_keylen(enc_algs, enc_id, key, src.enc_key if src and stmt.enc_key is not None else None)
        if satype != SAType.IPCOMP:
            head.append(KeyExt(ExtType.KEY_ENCRYPT, len(key) * 8, key))
    if stmt.auth is not None:
        auth_id = AUTH_BY_NAME[stmt.auth]
        if stmt.auth_key is not None:
            check_keylen(auth_algs, auth_id, stmt.auth_key, src.auth_key if src else None)
            head.append(KeyExt(ExtType.KEY_AUTH, len(stmt.auth_key) * 8, stmt.auth_key))
    if stmt.comp is not None:
        enc_id = COMP_BY_NAME[stmt.comp]
    o = stmt.options
    if o.hard_time or o.hard_bytes:
        head.append(LifetimeExt(ExtType.LIFETIME_HARD, 0, o.hard_bytes or 0, o.hard_time or 0, 0))
    if o.soft_time or o.soft_bytes:
        head.append(LifetimeExt(ExtType.LIFETIME_SOFT, 0, o.soft_bytes or 0, o.soft_time or 0, 0))
    if o.ctx is not None and o.ctx.doi:
        head.append(SecCtxExt(o.ctx.doi & 0xFF, o.ctx.alg & 0xFF, o.ctx.label + b"\0"))
    head.extend(_sa_head(stmt, stmt.spi, auth_id, enc_id))
    family, numeric = address_flags(stmt.ai_flags)
    end = src.end if src else None
    natt = stmt.protocol == "esp-udp"
    if natt:
        head.append(NatTTypeExt(UDP_ENCAP_ESPINUDP))
        if stmt.natt_oa is not None:
            oa = _addresses(stmt.natt_oa, None, family, numeric, end)[0]
            head.append(_address_ext(ExtType.X_NAT_T_OA, oa, IPSEC_ULPROTO_ANY, 32 if oa[0] == 4 else 128,
                                     platform))
    srcs = _addresses(stmt.src.host, stmt.src.port, family, numeric, end)
    dsts = _addresses(stmt.dst.host, stmt.dst.port, family, numeric, end)
    pairs = _pairs(srcs, dsts)
    if not pairs:
        raise SetkeyParseError("no source and destination address of the same family",
                               end.line if end else 0, end.column if end else 1, end.text if end else "",
                               source_line=end.source_line if end else "", silent=True)
    out = []
    for s, d in pairs:
        plen = 32 if s[0] == 4 else 128
        exts = [*head, _address_ext(ExtType.ADDRESS_SRC, s, IPSEC_ULPROTO_ANY, plen, platform),
                _address_ext(ExtType.ADDRESS_DST, d, IPSEC_ULPROTO_ANY, plen, platform)]
        if natt:
            exts.append(NatTPortExt(ExtType.X_NAT_T_SPORT, s[2] or NAT_T_DEFAULT_PORT))
            exts.append(NatTPortExt(ExtType.X_NAT_T_DPORT, d[2] or NAT_T_DEFAULT_PORT))
        out.append(Message(MsgType.ADD, satype, extensions=tuple(exts)))
    return out


def sa_by_address(msg_type: int, stmt: SAStatement | DeleteAllStatement, spi: int,
                  platform: Platform = LINUX) -> list[Message]:
    """setkeymsg_addr: GET/DELETE messages (SA, SA2, then SRC/DST for every address pair)."""
    family, numeric = address_flags(stmt.ai_flags)
    end = stmt.source.end if stmt.source else None
    if isinstance(stmt, SAStatement):
        sa, sa2 = _sa_head(stmt, spi, 0, 0)
        srcs = _addresses(stmt.src.host, stmt.src.port, family, numeric, end)
        dsts = _addresses(stmt.dst.host, stmt.dst.port, family, numeric, end)
    else:
        # deleteall has no SA options: parse_init's flags, plus -old's (the protocol rule sets it).
        flags = SADB_X_EXT_CYCSEQ | (SADB_X_EXT_OLD if stmt.protocol in ("esp-old", "ah-old") else 0)
        sa, sa2 = SAExt(spi, 0, 0, 0, 0, flags), SA2Ext(0, 0)
        srcs = _addresses(stmt.src, None, family, numeric, end)
        dsts = _addresses(stmt.dst, None, family, numeric, end)
    satype = SATYPES[stmt.protocol]
    out = []
    for s, d in _pairs(srcs, dsts):
        plen = 32 if s[0] == 4 else 128
        exts = (sa, sa2, _address_ext(ExtType.ADDRESS_SRC, s, IPSEC_ULPROTO_ANY, plen, platform),
                _address_ext(ExtType.ADDRESS_DST, d, IPSEC_ULPROTO_ANY, plen, platform))
        out.append(Message(msg_type, satype, extensions=exts))
    return out


def _compile_spd(stmt: SPDStatement, platform: Platform, kernel_mode: bool) -> list[Message]:
    msg_type = {"spdadd": MsgType.X_SPDADD, "spdupdate": MsgType.X_SPDUPDATE,
                "spddelete": MsgType.X_SPDDELETE}[stmt.command]
    policy = compile_policy(stmt.policy, platform)
    family, numeric = address_flags(stmt.ai_flags)
    end = stmt.source.end if stmt.source else None
    try:
        sport, dport = spd_ports(stmt)
        proto = upper_number(stmt.upper) & 0xFF
    except ValueError as exc:
        raise _fail(str(exc), end) from None
    s = _addresses(stmt.src.host, sport, family, numeric, end)
    d = _addresses(stmt.dst.host, dport, family, numeric, end)
    if len(s) > 1 or len(d) > 1:
        raise _fail("multiple address specified", end)
    if s[0][0] != d[0][0]:
        raise SetkeyParseError("source and destination are not of the same family", end.line if end else 0,
                               end.column if end else 1, end.text if end else "", silent=True)
    full = 32 if s[0][0] == 4 else 128
    tail: list[Extension] = [
        _address_ext(ExtType.ADDRESS_SRC, s[0], proto, _prefix(stmt.src.prefix, full), platform),
        _address_ext(ExtType.ADDRESS_DST, d[0], proto, _prefix(stmt.dst.prefix, full), platform),
    ]
    if stmt.ctx is not None and stmt.ctx.doi:
        tail.append(SecCtxExt(stmt.ctx.doi & 0xFF, stmt.ctx.alg & 0xFF, stmt.ctx.label + b"\0"))
    out = [Message(msg_type, 0, extensions=(policy, *tail))]
    fwd = fwd_copy(policy, platform, kernel_mode)
    if fwd is not None:
        out.append(Message(msg_type, 0, extensions=(fwd, *tail)))
    return out


def _prefix(prefix: int | None, full: int) -> int:
    """setkey keeps the prefix in a C int: absent or negative after truncation means the full length."""
    if prefix is None:
        return full
    value = prefix & 0xFFFFFFFF
    return full if value >= 0x80000000 else value


def fwd_copy(policy: PolicyExt, platform: Platform, kernel_mode: bool) -> PolicyExt | None:
    """The ``fwd`` twin setkey sends on Linux for every inbound policy (first rule unique → require)."""
    if kernel_mode or platform is not LINUX or policy.dir != 1:
        return None
    reqs = policy.requests
    if reqs and reqs[0].level == Level.UNIQUE:
        reqs = (reqs[0]._replace(level=Level.REQUIRE, reqid=0), *reqs[1:])
    return policy._replace(dir=3, requests=reqs)


def compile_statement(stmt: Statement, *, platform: Platform = LINUX, supported: Supported | None = None,
                      kernel_mode: bool = False, pid: int = 0) -> list[Message]:
    """The messages setkey sends for ``stmt`` (for ``deleteall``: the DUMP that starts it; see
    :func:`deleteall_messages`). Raises :class:`SetkeyParseError` for what setkey refuses here."""
    msgs = _compile(stmt, platform, supported, kernel_mode)
    if pid:
        msgs = [m._replace(pid=pid) for m in msgs]
    return msgs


def _compile(stmt: Statement, platform: Platform, supported: Supported | None, kernel_mode: bool) -> list[Message]:
    if isinstance(stmt, SAStatement):
        if stmt.command == "add":
            return _compile_add(stmt, platform, supported)
        msg_type = MsgType.GET if stmt.command == "get" else MsgType.DELETE
        return sa_by_address(msg_type, stmt, stmt.spi, platform)
    if isinstance(stmt, SPDStatement):
        return _compile_spd(stmt, platform, kernel_mode)
    if isinstance(stmt, SPDTaggedStatement):
        # setkeymsg_spdaddr_tag: the policy alone, and no fwd twin (only setkeymsg_spdaddr sends one).
        msg_type = MsgType.X_SPDADD if stmt.command == "spdadd" else MsgType.X_SPDUPDATE
        return [Message(msg_type, 0, extensions=(compile_policy(stmt.policy, platform),))]
    if isinstance(stmt, DeleteAllStatement):
        if platform is LINUX:
            return [Message(MsgType.DUMP, SATYPES[stmt.protocol])]
        msgs = sa_by_address(MsgType.DELETE, stmt, 0, platform)
        return [m._replace(extensions=m.extensions[2:]) for m in msgs]
    if isinstance(stmt, FlushStatement):
        return [Message(MsgType.FLUSH, SATYPES[stmt.protocol])]
    if isinstance(stmt, DumpStatement):
        return [Message(MsgType.DUMP, SATYPES[stmt.protocol])]
    if isinstance(stmt, SPDFlushStatement):
        return [Message(MsgType.X_SPDFLUSH, 0)]
    if isinstance(stmt, SPDDumpStatement):
        return [Message(MsgType.X_SPDDUMP, 0)]
    if isinstance(stmt, ExitStatement):
        return []
    raise TypeError(f"not a setkey statement: {stmt!r}")


def deleteall_messages(stmt: DeleteAllStatement, dump: Iterable[Message], *, platform: Platform = LINUX,
                       pid: int = 0) -> list[Message]:
    """Linux ``deleteall``: one DELETE per SA of the DUMP answer whose src and dst match the statement's."""
    family, numeric = address_flags(stmt.ai_flags)
    end = stmt.source.end if stmt.source else None
    srcs = {addr.to_sockaddr(a, platform) for a in _addresses(stmt.src, None, family, numeric, end)}
    dsts = {addr.to_sockaddr(a, platform) for a in _addresses(stmt.dst, None, family, numeric, end)}
    satype = SATYPES[stmt.protocol]
    out: list[Message] = []
    for m in dump:
        if m.satype != satype:
            continue
        s, d, sa = m.get(ExtType.ADDRESS_SRC), m.get(ExtType.ADDRESS_DST), m.get(ExtType.SA)
        if not isinstance(s, AddressExt) or not isinstance(d, AddressExt) or not isinstance(sa, SAExt):
            continue
        if _plain(s.sockaddr) in srcs and _plain(d.sockaddr) in dsts:
            out.extend(sa_by_address(MsgType.DELETE, stmt, sa.spi, platform))
    if pid:
        out = [m._replace(pid=pid) for m in out]
    return out


def _plain(sa: Sockaddr) -> Sockaddr:
    """A kernel sockaddr reduced to the fields setkey's memcmp looks at."""
    return sa._replace(sa_len=0, zero=b"")
