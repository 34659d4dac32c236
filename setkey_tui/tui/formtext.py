"""Form values → setkey statement text, remembering which field wrote which columns.

The forms never build messages themselves: they write setkey text, and the same grammar that reads scripts
(``setkey_tui.lang``) checks and compiles it. A parse error's column points back to the field it came from.
Checks the grammar cannot make (numbers the kernel would refuse for a reason we know) are made here first,
each with a sentence saying why.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field

from setkey_tui.algorithms import (
    AUTH_BY_NAME,
    AUTH_CHOICE_WORDS,
    AUTH_NOKEY,
    COMP_BY_NAME,
    COMP_WORDS,
    ENC_BY_NAME,
    ENC_CHOICE_WORDS,
    ENC_NOKEY,
    find_alg,
)
from setkey_tui.pfkey.constants import (
    AUTH_ALGS,
    COMP_ALGS,
    DIRECTIONS,
    ENC_ALGS,
    IPSEC_MANUAL_REQID_MAX,
    IPSEC_PROTOS,
    IPSEC_SA_TYPES,
    IPSEC_ULPROTO_ANY,
    LEVELS,
    MODES,
    POLICY_TYPES,
    SA_TYPES,
    SPI_MIN,
    AuthAlg,
    CompAlg,
    Direction,
    EncAlg,
    IpsecProto,
    Level,
    Mode,
    NameTable,
    PolicyType,
    SAType,
)
from setkey_tui.pfkey.extensions import Alg
from setkey_tui.render.names import (
    IPPROTO_GRE,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    UPPER_PROTOCOL_WORDS,
)

# The forms' choices, as the setkey language spells them (the constants' names; aliases left out).
SA_PROTOCOL_WORDS: tuple[str, ...] = tuple(SA_TYPES.name(t) for t in IPSEC_SA_TYPES)
SA_MODE_WORDS: tuple[str, ...] = tuple(MODES.name(m) for m in (Mode.ANY, Mode.TRANSPORT, Mode.TUNNEL))  # -m
AUTH_NONE = AUTH_ALGS.name(AuthAlg.NONE)  # no -A at all
AUTH_CHOICES: tuple[str, ...] = (AUTH_NONE, *AUTH_CHOICE_WORDS)
ENC_CHOICES: tuple[str, ...] = ENC_CHOICE_WORDS
COMP_CHOICES: tuple[str, ...] = COMP_WORDS
UPPER_NAMES: tuple[str, ...] = tuple(
    UPPER_PROTOCOL_WORDS[p]
    for p in (IPSEC_ULPROTO_ANY, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_GRE,
              IPPROTO_SCTP)
)
DIRECTION_WORDS: tuple[str, ...] = tuple(
    DIRECTIONS.name(d) for d in (Direction.OUTBOUND, Direction.INBOUND, Direction.FWD)
)
ACTION_WORDS: tuple[str, ...] = tuple(
    POLICY_TYPES.name(p) for p in (PolicyType.IPSEC, PolicyType.DISCARD, PolicyType.NONE)
)
REQUEST_PROTOCOL_WORDS: tuple[str, ...] = tuple(IPSEC_PROTOS.name(p) for p in IpsecProto)
REQUEST_MODE_WORDS: tuple[str, ...] = tuple(MODES.name(m) for m in (Mode.TRANSPORT, Mode.TUNNEL))
LEVEL_WORDS: tuple[str, ...] = tuple(LEVELS.name(lv) for lv in (Level.REQUIRE, Level.USE, Level.DEFAULT,
                                                               Level.UNIQUE))
REQID_MAX = IPSEC_MANUAL_REQID_MAX  # setkey's manual reqid range
U64_MAX = 2**64 - 1  # a lifetime field of sadb_lifetime


def means(table: NameTable, word: str, number: int) -> bool:
    """True when ``word`` names ``number`` in ``table`` (False for a word the table does not know)."""
    try:
        return table.value(word) == number
    except ValueError:
        return False


@dataclass
class Built:
    """A statement under construction: its text and the field each span came from."""

    text: str = ""
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, piece: str, field_id: str = "") -> None:
        """Append ``piece`` (a blank before it when needed), attributed to ``field_id``."""
        if self.text and not self.text.endswith(" "):
            self.text += " "
        start = len(self.text)
        self.text += piece
        if field_id:
            self.spans.append((start, len(self.text), field_id))

    def field_at(self, column: int) -> str:
        """The field that wrote 1-based ``column`` (the nearest one before it when between fields)."""
        pos = column - 1
        best = ""
        for start, end, fid in self.spans:
            if start <= pos < end:
                return fid
            if start <= pos:
                best = fid
        return best


def _address_family(text: str) -> int | None:
    host = text.split("[", 1)[0].split("/", 1)[0].strip()
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def address_problem(text: str, *, what: str, prefix: bool) -> str | None:
    """Why ``text`` is not a numeric IPv4/IPv6 address (with a ``/prefix`` length when ``prefix``), or None.

    The forms take numeric addresses only (a script may use host names): a name would be looked up on every
    keystroke, and a typing mistake would read as a name."""
    typed = text.strip()
    if not typed:
        return f"the {what} is required"
    host, slash, length = typed.partition("/")
    if slash and not prefix:
        return f"{typed}: an SA's {what} is one address, without a /prefix length"
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        if "[" in host:
            return f"{typed}: give the port in its own field"
        return f"{host} is not an IPv4 or IPv6 address (the form takes numeric addresses)"
    if slash:
        top = 32 if version == 4 else 128
        if not length.isdigit() or not 0 <= int(length) <= top:
            return f"{typed}: the prefix length of an IPv{version} address is 0 to {top}"
    return None


def _check_addresses(b: Built, src: str, dst: str, src_id: str, dst_id: str, *, prefix: bool = False,
                     names: tuple[str, str] = ("source address", "destination address")) -> None:
    """Each address on its own (its error under its field), then the two together."""
    for text, fid, what in ((src, src_id, names[0]), (dst, dst_id, names[1])):
        problem = address_problem(text, what=what, prefix=prefix)
        if problem:
            b.errors[fid] = problem
    if src_id in b.errors or dst_id in b.errors:
        return
    fs, fd = _address_family(src), _address_family(dst)
    if fs and fd and fs != fd:
        b.errors[dst_id] = f"IPv{fs} source with an IPv{fd} destination: both must be of one family"


def _number(text: str) -> int | None:
    try:
        return int(text.strip(), 0)
    except ValueError:
        return None


def key_bits(key_text: str) -> int | None:
    """Bits of a ``0x…`` hex key or a ``"…"`` quoted string key; None when it is neither."""
    written = key_text.strip()
    if written.startswith(("0x", "0X")):
        digits = written[2:]
        if not digits or any(c not in "0123456789abcdefABCDEF" for c in digits):
            return None
        return (len(digits) + 1) // 2 * 8
    if len(written) >= 2 and written[0] == written[-1] == '"':
        return (len(written) - 2) * 8
    return None


def _check_key(b: Built, alg_name: str, alg_id: int, key_text: str, supported: tuple[Alg, ...], field_id: str,
               what: str) -> None:
    bits = key_bits(key_text)
    if not key_text.strip():
        b.errors[field_id] = f"the {what} key is required (ctrl+r makes a random one)"
        return
    if bits is None:
        b.errors[field_id] = f"the {what} key is 0x followed by hex digits, or a \"quoted string\""
        return
    alg = find_alg(supported, alg_id)
    if alg is None:
        b.errors[field_id] = f"this kernel does not offer {alg_name}"
        return
    if not alg.minbits <= bits <= alg.maxbits:
        want = f"{alg.minbits}" if alg.minbits == alg.maxbits else f"{alg.minbits} to {alg.maxbits}"
        b.errors[field_id] = f"{alg_name} takes a key of {want} bits; this one has {bits}"


def _add_algorithm(b: Built, flag: str, name: str, key_text: str, field_id: str, by_name: dict[str, int],
                   nokey: frozenset[str], supported: tuple[Alg, ...], what: str) -> None:
    """``-E name key`` or ``-A name key`` (no key for an algorithm that takes none), the key checked against
    what the kernel offers; the key's field is ``<field_id>_key``."""
    b.add(f"{flag} {name}", field_id)
    if name not in nokey:
        key_field = f"{field_id}_key"
        b.add(key_text.strip() or "?", key_field)
        _check_key(b, name, by_name.get(name, -1), key_text, supported, key_field, what)


def random_key(alg_id: int, supported: tuple[Alg, ...]) -> str:
    """A random hex key of a length the kernel accepts for ``alg_id`` ("" when it takes no key)."""
    alg = find_alg(supported, alg_id)
    if alg is None or alg.maxbits == 0:
        return ""
    bits = alg.minbits if alg.minbits >= 128 or alg.minbits == alg.maxbits else min(128, alg.maxbits)
    return "0x" + secrets.token_hex(bits // 8)


@dataclass
class SAForm:
    """What the Add SA form holds."""

    proto: str = SA_TYPES.name(SAType.ESP)
    src: str = ""
    dst: str = ""
    spi: str = ""
    mode: str = MODES.name(Mode.ANY)
    reqid: str = ""
    replay: str = ""
    enc: str = ENC_ALGS.name(EncAlg.AESCBC)
    enc_key: str = ""
    auth: str = AUTH_ALGS.name(AuthAlg.SHA2_256HMAC)
    auth_key: str = ""
    comp: str = COMP_ALGS.name(CompAlg.DEFLATE)
    soft: str = ""
    hard: str = ""
    soft_bytes: str = ""
    hard_bytes: str = ""


LIFETIMES = (  # field, setkey flag, what it counts
    ("hard", "-lh", "hard lifetime", "seconds"),
    ("soft", "-ls", "soft lifetime", "seconds"),
    ("hard_bytes", "-bh", "hard byte lifetime", "bytes"),
    ("soft_bytes", "-bs", "soft byte lifetime", "bytes"),
)


def _check_lifetimes(b: Built, f: SAForm) -> None:
    """Numbers in range, soft not after hard, and (Linux) a soft limit exactly when there is a hard one."""
    values: dict[str, int] = {}
    for fid, flag, label, unit in LIFETIMES:
        text = getattr(f, fid).strip()
        if not text:
            continue
        n = _number(text)
        if n is None or not 0 <= n <= U64_MAX:
            b.errors[fid] = f"the {label} is a number of {unit} (0 to {U64_MAX})"
        else:
            values[fid] = n
        b.add(f"{flag} {text}", fid)
    for soft, hard, unit in (("soft", "hard", "s"), ("soft_bytes", "hard_bytes", " bytes")):
        if soft in values and hard in values and values[hard] and values[soft] > values[hard]:
            b.errors[soft] = (f"the soft limit ({values[soft]}{unit}) comes after the hard one "
                              f"({values[hard]}{unit}): the SA would die before its warning")
    has_hard = any(getattr(f, fid).strip() for fid in ("hard", "hard_bytes"))
    has_soft = any(getattr(f, fid).strip() for fid in ("soft", "soft_bytes"))
    if has_hard != has_soft:
        missing = "hard" if has_soft else "soft"
        if f.soft_bytes.strip() or f.hard_bytes.strip():
            missing += "_bytes" if not (f.soft.strip() or f.hard.strip()) else ""
        b.errors.setdefault(missing, f"Linux wants a {missing.split('_')[0]} limit when there is a "
                            f"{'soft' if missing.startswith('hard') else 'hard'} one (one alone is refused: "
                            "EINVAL)")


def build_sa(f: SAForm, supported: tuple[tuple[Alg, ...], tuple[Alg, ...]]) -> Built:
    """The ``add`` statement for ``f`` and the errors found before the grammar runs."""
    b = Built()
    esp, ah, ipcomp = (means(SA_TYPES, f.proto, satype) for satype in (SAType.ESP, SAType.AH, SAType.IPCOMP))
    _check_addresses(b, f.src, f.dst, "src", "dst")
    spi = _number(f.spi)
    if not f.spi.strip():
        b.errors["spi"] = "the SPI is required: 0x1000 or 4096"
        spi = 0
    if "spi" in b.errors:
        pass
    elif spi is None:
        b.errors["spi"] = "the SPI is a number: 0x1000 or 4096"
    elif ipcomp and not 0 < spi <= 0xFFFF:
        b.errors["spi"] = "an IPComp CPI is 1 to 0xffff"
    elif not ipcomp and not SPI_MIN <= spi <= 0xFFFFFFFF:
        b.errors["spi"] = "the SPI is 0x100 to 0xffffffff (the kernel keeps 1-255 for itself)"
    b.add("add")
    b.add(f.src.strip() or "?", "src")
    b.add(f.dst.strip() or "?", "dst")
    b.add(f.proto, "proto")
    b.add(f.spi.strip() or "?", "spi")
    if not means(MODES, f.mode, Mode.ANY):
        b.add(f"-m {f.mode}", "mode")
    if f.replay.strip():
        n = _number(f.replay)
        if n is None or not 0 <= n <= 0xFFFFFFFF:
            b.errors["replay"] = "the replay window is a number of packets (0 to 4294967295)"
        b.add(f"-r {f.replay.strip()}", "replay")
    if f.reqid.strip():
        n = _number(f.reqid)
        if n is None or not 0 <= n <= REQID_MAX:
            b.errors["reqid"] = f"the reqid is 0 to {REQID_MAX} (setkey's manual range)"
        b.add(f"-u {f.reqid.strip()}", "reqid")
    _check_lifetimes(b, f)
    auth_algs, enc_algs = supported
    if esp:
        _add_algorithm(b, "-E", f.enc, f.enc_key, "enc", ENC_BY_NAME, ENC_NOKEY, enc_algs, "encryption")
    if (esp or ah) and f.auth != AUTH_NONE:
        _add_algorithm(b, "-A", f.auth, f.auth_key, "auth", AUTH_BY_NAME, AUTH_NOKEY, auth_algs, "authentication")
    if ah and f.auth == AUTH_NONE:
        b.errors["auth"] = "AH needs an authentication algorithm"
    if ipcomp:
        if f.comp not in COMP_BY_NAME:
            b.errors["comp"] = "choose a compression algorithm"
        b.add(f"-C {f.comp}", "comp")
    b.text += " ;"
    return b


@dataclass
class SPForm:
    """What the Add policy form holds."""

    src: str = ""
    sport: str = "any"
    dst: str = ""
    dport: str = "any"
    upper: str = UPPER_PROTOCOL_WORDS[IPSEC_ULPROTO_ANY]
    direction: str = DIRECTIONS.name(Direction.OUTBOUND)
    priority: str = ""
    action: str = POLICY_TYPES.name(PolicyType.IPSEC)
    req_proto: str = IPSEC_PROTOS.name(IpsecProto.ESP)
    req_mode: str = MODES.name(Mode.TRANSPORT)
    tsrc: str = ""
    tdst: str = ""
    level: str = LEVELS.name(Level.REQUIRE)
    reqid: str = ""


def _port(b: Built, value: str, fid: str) -> str:
    v = value.strip() or "any"
    if v != "any":
        n = _number(v)
        if n is None or not 0 <= n <= 0xFFFF:
            b.errors[fid] = "a port is any or 0 to 65535"
    return v


def build_sp(f: SPForm) -> Built:
    """The ``spdadd`` statement for ``f`` and the errors found before the grammar runs."""
    b = Built()
    _check_addresses(b, f.src, f.dst, "src", "dst", prefix=True,
                     names=("source range", "destination range"))
    sport = _port(b, f.sport, "sport")
    upper = f.upper.strip().lower() or "any"
    number = _number(upper)
    if upper not in UPPER_NAMES and (number is None or not 0 <= number <= 255):
        b.errors["upper"] = f"{f.upper}: an upper-layer protocol is {', '.join(UPPER_NAMES)} or 0 to 255"
    dport = _port(b, f.dport, "dport")
    b.add("spdadd")
    b.add(f.src.strip() or "?", "src")
    b.text += f"[{sport}]"
    b.spans.append((len(b.text) - len(sport) - 2, len(b.text), "sport"))
    b.add(f.dst.strip() or "?", "dst")
    b.text += f"[{dport}]"
    b.spans.append((len(b.text) - len(dport) - 2, len(b.text), "dport"))
    b.add(upper, "upper")
    b.add(f"-P {f.direction}", "direction")
    if f.priority.strip():
        n = _number(f.priority)
        if n is None:
            b.errors["priority"] = "the priority is a number (relative to the default, e.g. 10 or -5)"
        b.add(f"prio {f.priority.strip()}", "priority")
    b.add(f.action, "action")
    if means(POLICY_TYPES, f.action, PolicyType.IPSEC):
        ends = ""
        if means(MODES, f.req_mode, Mode.TUNNEL):
            for text, fid, what in ((f.tsrc, "tsrc", "source"), (f.tdst, "tdst", "destination")):
                if not text.strip():
                    b.errors[fid] = f"tunnel mode needs the tunnel {what} address"
            if "tsrc" not in b.errors and "tdst" not in b.errors:
                _check_addresses(b, f.tsrc, f.tdst, "tsrc", "tdst",
                                 names=("tunnel source", "tunnel destination"))
            ends = f"{f.tsrc.strip()}-{f.tdst.strip()}"
            if means(LEVELS, f.level, Level.USE) and means(DIRECTIONS, f.direction, Direction.OUTBOUND):
                b.errors["level"] = "level use is refused for an outbound tunnel policy (Linux: EINVAL)"
        level = f.level
        if f.reqid.strip():
            n = _number(f.reqid)
            if n is None or not 1 <= n <= REQID_MAX:
                b.errors["reqid"] = f"the reqid is 1 to {REQID_MAX}"
            level = f"unique:{f.reqid.strip()}"
        b.add(f"{f.req_proto}/{f.req_mode}/{ends}/{level}", "request")
    b.text += " ;"
    return b
