"""Export: an SA or a policy as the setkey statement that recreates it.

Both functions take the model (:class:`~setkey_tui.model.SecurityAssociation`,
:class:`~setkey_tui.model.SecurityPolicy`); a decoded message is accepted too and read through the model.

The statements use only the syntax every setkey of ipsec-tools accepts (``add``/``spdadd``), keys as hex.
Without ``with_keys`` the keys are written as zero bytes of the right length, after a comment saying so, so
that the text still parses and shows the key sizes but carries no secret.
"""

from __future__ import annotations

from setkey_tui.algorithms import AUTH_BY_NAME, ENC_BY_NAME
from setkey_tui.model import Endpoint, IpsecRequest, ModelError, SecurityAssociation, SecurityPolicy
from setkey_tui.pfkey.constants import (
    IPSEC_MANUAL_REQID_MAX,
    IPSEC_ULPROTO_ANY,
    NAT_T_DEFAULT_PORT,
    SA_TYPES,
    SADB_X_EXT_CYCSEQ,
    SADB_X_EXT_PRAND,
    SADB_X_EXT_PZERO,
    SADB_X_EXT_RAWCPI,
    SAType,
)
from setkey_tui.pfkey.extensions import Sockaddr
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.render.names import (
    COMP_NAMES,
    IPPROTO_GRE,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_MH,
    IPPROTO_TCP,
    IPPROTO_UDP,
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
_UPPER_NAMES = {p: UPPER_PROTOCOL_WORDS[p] for p in (IPSEC_ULPROTO_ANY, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6)}
_WITHHELD = "# keys not exported: the zero keys below only show their length\n"


class ExportError(ValueError):
    """The message cannot be written as a setkey statement (``str()`` says why)."""


def _addr(ep: Endpoint) -> str:
    """The numeric address as setkey writes it (``%scope`` by interface name where this host has one)."""
    return addr_text(Sockaddr(0, 0, ep.address.packed, 0, ep.scope_id))


def _host(ep: Endpoint, port: int | None = None) -> str:
    text = _addr(ep)
    if port:
        text += f"[{port}]"
    return text


def _key(key: bytes, with_keys: bool) -> str:
    if not key:
        return '""'
    return "0x" + (key.hex() if with_keys else "00" * len(key))


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


def _as_sa(entry: SecurityAssociation | Message) -> SecurityAssociation:
    if isinstance(entry, SecurityAssociation):
        return entry
    try:
        return SecurityAssociation.from_message(entry)
    except ModelError:
        raise ExportError("an SA needs its SA, source and destination extensions") from None


def _as_sp(entry: SecurityPolicy | Message) -> SecurityPolicy:
    if isinstance(entry, SecurityPolicy):
        sp = entry
    else:
        try:
            sp = SecurityPolicy.from_message(entry)
        except ModelError:
            sp = None
    if sp is None or sp.selector is None:
        raise ExportError("a policy needs its source, destination and policy extensions")
    return sp


def sa_to_statement(entry: SecurityAssociation | Message, *, with_keys: bool, platform: Platform = LINUX) -> str:
    """``add SRC DST PROTO SPI [options] ALGORITHMS ;`` (plus a comment line when keys are withheld)."""
    sa = _as_sa(entry)
    proto = _PROTOS.get(sa.satype)
    if proto is None:
        raise ExportError(f"SA type {sa.satype} has no setkey name")
    sport, dport = sa.src.port, sa.dst.port
    if sa.natt_type and sa.satype == SAType.ESP:
        proto = "esp-udp"
        # setkey puts an esp-udp [port] into the sockaddr too and defaults the NAT-T ports to 4500.
        if not sport and sa.natt_sport and sa.natt_sport != NAT_T_DEFAULT_PORT:
            sport = sa.natt_sport
        if not dport and sa.natt_dport and sa.natt_dport != NAT_T_DEFAULT_PORT:
            dport = sa.natt_dport
        if sa.natt_oa is not None:
            proto += " " + _addr(sa.natt_oa)
    words = ["add", _host(sa.src, sport), _host(sa.dst, dport), proto, f"0x{sa.spi:x}"]
    if sa.mode in (1, 2):
        words += ["-m", MODE_NAMES[sa.mode]]
    if sa.reqid:
        words += ["-u", str(sa.reqid)]
    if sa.replay:
        words += ["-r", str(sa.replay)]
    if sa.flags & SADB_X_EXT_PZERO:
        words += ["-f", "zero-pad"]
    elif sa.flags & SADB_X_EXT_PRAND:
        words += ["-f", "random-pad"]
    if platform is not LINUX and not sa.flags & SADB_X_EXT_CYCSEQ:
        words += ["-f", "nocyclic-seq"]
    for life, time_flag, bytes_flag in ((sa.hard, "-lh", "-bh"), (sa.soft, "-ls", "-bs")):
        if life is not None:
            if life.addtime:
                words += [time_flag, str(life.addtime)]
            if life.bytes:
                words += [bytes_flag, str(life.bytes)]
    withheld = False
    enc, auth = sa.enc_key, sa.auth_key
    if sa.satype == SAType.IPCOMP:
        if not 0 <= sa.encrypt < len(COMP_NAMES) or sa.encrypt == 0:
            raise ExportError(f"compression algorithm {sa.encrypt} has no setkey name")
        words += ["-C", COMP_NAMES[sa.encrypt]]
        if sa.flags & SADB_X_EXT_RAWCPI:
            words.append("-R")
    elif sa.encrypt or enc is not None:
        words += ["-E", _alg_name(platform.enc_names, sa.encrypt, "encryption", ENC_BY_NAME)]
        if enc:
            words.append(_key(enc, with_keys))
            withheld = not with_keys
    if auth is not None or (sa.auth and sa.satype != SAType.IPCOMP):
        name = _alg_name(platform.auth_names, sa.auth, "authentication", AUTH_BY_NAME)
        words += ["-A", name]
        if name != "null" and auth is not None:
            words.append(_key(auth, with_keys))
            withheld = withheld or (not with_keys and len(auth) > 0)
    text = " ".join(words) + " ;\n"
    return (_WITHHELD + text) if withheld else text


def _range(ep: Endpoint, show_port: bool) -> str:
    text = _addr(ep)
    if ep.prefixlen != ep.address.max_prefixlen:
        text += f"/{ep.prefixlen}"
    if show_port and ep.port:
        text += f"[{ep.port}]"
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


def sp_to_statement(entry: SecurityPolicy | Message, *, platform: Platform = LINUX) -> str:
    """``spdadd SRC DST UPPER [type,code] -P DIR [prio ...] ACTION [requests] ;``."""
    sp = _as_sp(entry)
    sel = sp.selector
    assert sel is not None
    direction = POLICY_DIR_NAMES.get(sp.direction)
    if direction is None or sp.direction not in (1, 2, 3):
        raise ExportError(f"policy direction {sp.direction} cannot be written (in, out or fwd only)")
    if not 0 <= sp.action < len(POLICY_TYPE_NAMES):
        raise ExportError(f"policy type {sp.action} has no setkey name")
    ulp = sel.upper
    special = ulp in (IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MH, IPPROTO_GRE)
    words = ["spdadd", _range(sel.src, not special), _range(sel.dst, not special), _UPPER_NAMES.get(ulp, str(ulp))]
    sport, dport = sel.src.port, sel.dst.port
    if special and (sport or dport):
        if ulp == IPPROTO_GRE:
            words.append(f"{sport >> 8}.{sport & 0xFF}.{dport >> 8}.{dport & 0xFF}")
        else:
            words.append(f"{sport},{dport}")
    words += ["-P", direction]
    if platform.policy_priority:
        words.append(priority_text(sp.priority) if sp.priority else "prio 2147483648")
    words.append(POLICY_TYPE_NAMES[sp.action])
    if sp.action == 2:
        words += [_request(r) for r in sp.requests]
    return " ".join(words) + " ;\n"
