"""Export: an SA or SP message as the setkey statement that recreates it.

The statements use only the syntax every setkey of ipsec-tools accepts (``add``/``spdadd``), keys as hex.
Without ``with_keys`` the keys are written as zero bytes of the right length, after a comment saying so, so
that the text still parses and shows the key sizes but carries no secret.
"""

from __future__ import annotations

from setkey_tui.algorithms import AUTH_BY_NAME, ENC_BY_NAME
from setkey_tui.pfkey.constants import (
    IPSEC_MANUAL_REQID_MAX,
    IPSEC_ULPROTO_ANY,
    NAT_T_DEFAULT_PORT,
    SA_TYPES,
    SADB_X_EXT_CYCSEQ,
    SADB_X_EXT_PRAND,
    SADB_X_EXT_PZERO,
    SADB_X_EXT_RAWCPI,
    ExtType,
    SAType,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    IpsecRequest,
    KeyExt,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    Sockaddr,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.render.names import (
    COMP_NAMES,
    IPPROTO_GRE,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_MH,
    LEVEL_NAMES,
    MODE_NAMES,
    POLICY_DIR_NAMES,
    POLICY_TYPE_NAMES,
    REQUEST_PROTO_NAMES,
    UPPER_PROTOCOL_WORDS,
    addr_text,
)
from setkey_tui.render.policy import priority_text

_PROTOS = {int(satype): SA_TYPES.name(satype) for satype in (SAType.AH, SAType.ESP, SAType.IPCOMP, SAType.TCPSIGNATURE)}
# Upper-layer protocols exported by name: only those every setkey host knows (any, tcp and icmp6 are setkey
# keywords, the others in every /etc/protocols); the rest as numbers, so that the text parses anywhere.
_UPPER_NAMES = {p: UPPER_PROTOCOL_WORDS[p] for p in (IPSEC_ULPROTO_ANY, 6, 17, IPPROTO_ICMP, IPPROTO_ICMPV6)}
_WITHHELD = "# keys not exported: the zero keys below only show their length\n"


class ExportError(ValueError):
    """The message cannot be written as a setkey statement (``str()`` says why)."""


def _host(sa: Sockaddr, port: int | None = None) -> str:
    text = addr_text(sa)
    if port:
        text += f"[{port}]"
    return text


def _key(ext: KeyExt, with_keys: bool) -> str:
    data = ext.key[: ext.bits // 8]
    if not data:
        return '""'
    return "0x" + (data.hex() if with_keys else "00" * len(data))


def _alg_name(names: dict[int, str], alg: int, what: str, words: dict[str, int] | None = None) -> str:
    """The word the setkey language takes for ``alg``: the displayed name when the language reads it back as
    the same algorithm, else the language's own word for it (``-D`` shows keyed MD5 as ``md5``; a script
    says ``keyed-md5``)."""
    name = names.get(alg)
    if words is not None and words.get(name or "") != alg:
        name = next((w for w, n in words.items() if n == alg), name)
    if name is None:
        raise ExportError(f"{what} algorithm {alg} has no setkey name")
    return name


def sa_to_statement(msg: Message, *, with_keys: bool, platform: Platform = LINUX) -> str:
    """``add SRC DST PROTO SPI [options] ALGORITHMS ;`` (plus a comment line when keys are withheld)."""
    exts = msg.ext_map()
    sa, sa2 = exts.get(ExtType.SA), exts.get(ExtType.X_SA2)
    src, dst = exts.get(ExtType.ADDRESS_SRC), exts.get(ExtType.ADDRESS_DST)
    if not isinstance(sa, SAExt) or not isinstance(src, AddressExt) or not isinstance(dst, AddressExt):
        raise ExportError("an SA needs its SA, source and destination extensions")
    proto = _PROTOS.get(msg.satype)
    if proto is None:
        raise ExportError(f"SA type {msg.satype} has no setkey name")
    natt = exts.get(ExtType.X_NAT_T_TYPE)
    sport, dport = src.sockaddr.port, dst.sockaddr.port
    if isinstance(natt, NatTTypeExt) and natt.type and msg.satype == SAType.ESP:
        proto = "esp-udp"
        sp, dp = exts.get(ExtType.X_NAT_T_SPORT), exts.get(ExtType.X_NAT_T_DPORT)
        # setkey puts an esp-udp [port] into the sockaddr too and defaults the NAT-T ports to 4500.
        if not sport and isinstance(sp, NatTPortExt) and sp.port != NAT_T_DEFAULT_PORT:
            sport = sp.port
        if not dport and isinstance(dp, NatTPortExt) and dp.port != NAT_T_DEFAULT_PORT:
            dport = dp.port
        oa = exts.get(ExtType.X_NAT_T_OA)
        if isinstance(oa, AddressExt):
            proto += " " + addr_text(oa.sockaddr)
    words = ["add", _host(src.sockaddr, sport), _host(dst.sockaddr, dport), proto, f"0x{sa.spi:x}"]
    if isinstance(sa2, SA2Ext):
        if sa2.mode in (1, 2):
            words += ["-m", MODE_NAMES[sa2.mode]]
        if sa2.reqid:
            words += ["-u", str(sa2.reqid)]
    if sa.replay:
        words += ["-r", str(sa.replay)]
    if sa.flags & SADB_X_EXT_PZERO:
        words += ["-f", "zero-pad"]
    elif sa.flags & SADB_X_EXT_PRAND:
        words += ["-f", "random-pad"]
    if platform is not LINUX and not sa.flags & SADB_X_EXT_CYCSEQ:
        words += ["-f", "nocyclic-seq"]
    for ext_type, time_flag, bytes_flag in ((ExtType.LIFETIME_HARD, "-lh", "-bh"),
                                            (ExtType.LIFETIME_SOFT, "-ls", "-bs")):
        life = exts.get(ext_type)
        if isinstance(life, LifetimeExt):
            if life.addtime:
                words += [time_flag, str(life.addtime)]
            if life.byte_count:
                words += [bytes_flag, str(life.byte_count)]
    withheld = False
    enc, auth = exts.get(ExtType.KEY_ENCRYPT), exts.get(ExtType.KEY_AUTH)
    if msg.satype == SAType.IPCOMP:
        if not 0 <= sa.encrypt < len(COMP_NAMES) or sa.encrypt == 0:
            raise ExportError(f"compression algorithm {sa.encrypt} has no setkey name")
        words += ["-C", COMP_NAMES[sa.encrypt]]
        if sa.flags & SADB_X_EXT_RAWCPI:
            words.append("-R")
    elif sa.encrypt or isinstance(enc, KeyExt):
        words += ["-E", _alg_name(platform.enc_names, sa.encrypt, "encryption", ENC_BY_NAME)]
        if isinstance(enc, KeyExt) and enc.bits:
            words.append(_key(enc, with_keys))
            withheld = not with_keys
    if isinstance(auth, KeyExt) or (sa.auth and msg.satype != SAType.IPCOMP):
        name = _alg_name(platform.auth_names, sa.auth, "authentication", AUTH_BY_NAME)
        words += ["-A", name]
        if name != "null" and isinstance(auth, KeyExt):
            words.append(_key(auth, with_keys))
            withheld = withheld or (not with_keys and auth.bits > 0)
    text = " ".join(words) + " ;\n"
    return (_WITHHELD + text) if withheld else text


def _range(ext: AddressExt, show_port: bool) -> str:
    sa = ext.sockaddr
    text = addr_text(sa)
    full = 32 if sa.version == 4 else 128
    if ext.prefixlen != full:
        text += f"/{ext.prefixlen}"
    if show_port and sa.port:
        text += f"[{sa.port}]"
    return text


def _request(req: IpsecRequest) -> str:
    proto = REQUEST_PROTO_NAMES.get(req.proto)
    if proto is None:
        raise ExportError(f"IPsec protocol {req.proto} has no setkey name")
    if req.mode not in (1, 2):
        raise ExportError(f"request mode {req.mode} cannot be written (transport or tunnel only)")
    addrs = ""
    if req.src is not None and req.dst is not None:
        addrs = f"{_host(req.src, req.src.port)}-{_host(req.dst, req.dst.port)}"
    if not 0 <= req.level < len(LEVEL_NAMES):
        raise ExportError(f"request level {req.level} has no setkey name")
    level = LEVEL_NAMES[req.level]
    if req.level == 3 and 0 < req.reqid <= IPSEC_MANUAL_REQID_MAX:
        level += f":{req.reqid}"
    return f"{proto}/{MODE_NAMES[req.mode]}/{addrs}/{level}"


def sp_to_statement(msg: Message, *, platform: Platform = LINUX) -> str:
    """``spdadd SRC DST UPPER [type,code] -P DIR [prio ...] ACTION [requests] ;``."""
    exts = msg.ext_map()
    src, dst, pol = exts.get(ExtType.ADDRESS_SRC), exts.get(ExtType.ADDRESS_DST), exts.get(ExtType.X_POLICY)
    if not isinstance(src, AddressExt) or not isinstance(dst, AddressExt) or not isinstance(pol, PolicyExt):
        raise ExportError("a policy needs its source, destination and policy extensions")
    direction = POLICY_DIR_NAMES.get(pol.dir)
    if direction is None or pol.dir not in (1, 2, 3):
        raise ExportError(f"policy direction {pol.dir} cannot be written (in, out or fwd only)")
    if not 0 <= pol.policy_type < len(POLICY_TYPE_NAMES):
        raise ExportError(f"policy type {pol.policy_type} has no setkey name")
    ulp = src.proto
    special = ulp in (IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MH, IPPROTO_GRE)
    words = ["spdadd", _range(src, not special), _range(dst, not special), _UPPER_NAMES.get(ulp, str(ulp))]
    sport, dport = src.sockaddr.port, dst.sockaddr.port
    if special and (sport or dport):
        if ulp == IPPROTO_GRE:
            words.append(f"{sport >> 8}.{sport & 0xFF}.{dport >> 8}.{dport & 0xFF}")
        else:
            words.append(f"{sport},{dport}")
    words += ["-P", direction]
    if platform.policy_priority:
        words.append(priority_text(pol.priority) if pol.priority else "prio 2147483648")
    words.append(POLICY_TYPE_NAMES[pol.policy_type])
    if pol.policy_type == 2:
        words += [_request(r) for r in pol.requests]
    return " ".join(words) + " ;\n"
