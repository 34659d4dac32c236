"""PF_KEY v2 numbers (RFC 2367 plus the KAME and Linux extensions), Linux numbering.

Numbers that differ on FreeBSD or Darwin are translated by :mod:`setkey_tui.pfkey.platform`; everything
in the codec and the model uses the Linux/RFC values defined here.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

PF_KEY = 15
PF_KEY_V2 = 2
SADB_MSG_LEN = 16
ALIGN = 8


class MsgType(IntEnum):
    """``sadb_msg_type``."""

    RESERVED = 0
    GETSPI = 1
    UPDATE = 2
    ADD = 3
    DELETE = 4
    GET = 5
    ACQUIRE = 6
    REGISTER = 7
    EXPIRE = 8
    FLUSH = 9
    DUMP = 10
    X_PROMISC = 11
    X_PCHANGE = 12
    X_SPDUPDATE = 13
    X_SPDADD = 14
    X_SPDDELETE = 15
    X_SPDGET = 16
    X_SPDACQUIRE = 17
    X_SPDDUMP = 18
    X_SPDFLUSH = 19
    X_SPDSETIDX = 20
    X_SPDEXPIRE = 21
    X_SPDDELETE2 = 22
    X_NAT_T_NEW_MAPPING = 23
    X_MIGRATE = 24
    # Darwin-only message types, given private canonical numbers (above u8) that platform.py maps to the wire.
    X_GETSASTAT = 256
    X_SPDENABLE = 257
    X_SPDDISABLE = 258


class ExtType(IntEnum):
    """``sadb_ext_type``; 20–26 are the Linux numbers (FreeBSD extras live above 26)."""

    RESERVED = 0
    SA = 1
    LIFETIME_CURRENT = 2
    LIFETIME_HARD = 3
    LIFETIME_SOFT = 4
    ADDRESS_SRC = 5
    ADDRESS_DST = 6
    ADDRESS_PROXY = 7
    KEY_AUTH = 8
    KEY_ENCRYPT = 9
    IDENTITY_SRC = 10
    IDENTITY_DST = 11
    SENSITIVITY = 12
    PROPOSAL = 13
    SUPPORTED_AUTH = 14
    SUPPORTED_ENCRYPT = 15
    SPIRANGE = 16
    X_KMPRIVATE = 17
    X_POLICY = 18
    X_SA2 = 19
    X_NAT_T_TYPE = 20
    X_NAT_T_SPORT = 21
    X_NAT_T_DPORT = 22
    X_NAT_T_OA = 23
    X_SEC_CTX = 24
    X_KMADDRESS = 25
    X_FILTER = 26
    # FreeBSD-only extensions, given private canonical numbers; platform.py maps them to the wire.
    X_NAT_T_OAR = 100
    X_NAT_T_FRAG = 101
    X_SA_REPLAY = 102
    X_NEW_ADDRESS_SRC = 103
    X_NEW_ADDRESS_DST = 104


class SAType(IntEnum):
    """``sadb_msg_satype``."""

    UNSPEC = 0
    AH = 2
    ESP = 3
    RSVP = 5
    OSPFV2 = 6
    RIPV2 = 7
    MIP = 8
    IPCOMP = 9
    TCPSIGNATURE = 11


class SAState(IntEnum):
    """``sadb_sa_state``."""

    LARVAL = 0
    MATURE = 1
    DYING = 2
    DEAD = 3


class Mode(IntEnum):
    """IPsec mode (``sadb_x_sa2_mode``, request mode)."""

    ANY = 0
    TRANSPORT = 1
    TUNNEL = 2
    BEET = 3


class Direction(IntEnum):
    """Policy direction."""

    ANY = 0
    INBOUND = 1
    OUTBOUND = 2
    FWD = 3
    MAX = 4
    INVALID = 5


class PolicyType(IntEnum):
    """Policy action."""

    DISCARD = 0
    NONE = 1
    IPSEC = 2
    ENTRUST = 3
    BYPASS = 4


class Level(IntEnum):
    """Request level."""

    DEFAULT = 0
    USE = 1
    REQUIRE = 2
    UNIQUE = 3


class AuthAlg(IntEnum):
    """Authentication algorithms (RFC 2367 / Linux numbering)."""

    NONE = 0
    MD5HMAC = 2
    SHA1HMAC = 3
    SHA2_256HMAC = 5
    SHA2_384HMAC = 6
    SHA2_512HMAC = 7
    RIPEMD160HMAC = 8
    AES_XCBC_MAC = 9
    X_MD5 = 249
    X_SHA = 250
    X_NULL = 251
    X_TCP_MD5 = 252


class EncAlg(IntEnum):
    """Encryption algorithms (RFC 2367 / Linux numbering)."""

    NONE = 0
    DESCBC = 2
    TRIPLEDESCBC = 3
    CASTCBC = 6
    BLOWFISHCBC = 7
    NULL = 11
    AESCBC = 12
    AESCTR = 13
    AES_CCM_ICV8 = 14
    AES_CCM_ICV12 = 15
    AES_CCM_ICV16 = 16
    AES_GCM_ICV8 = 18
    AES_GCM_ICV12 = 19
    AES_GCM_ICV16 = 20
    CAMELLIACBC = 22
    NULL_AES_GMAC = 23
    SERPENTCBC = 252
    TWOFISHCBC = 253


class CompAlg(IntEnum):
    """IPComp algorithms."""

    NONE = 0
    OUI = 1
    DEFLATE = 2
    LZS = 3
    LZJH = 4


class IdentType(IntEnum):
    """``sadb_ident_type``."""

    RESERVED = 0
    PREFIX = 1
    FQDN = 2
    USERFQDN = 3
    X_ADDR = 4


# sadb_sa_flags
SADB_SAFLAGS_PFS = 0x1
SADB_X_EXT_OLD = 0x1
SADB_X_EXT_IV4B = 0x10
SADB_X_EXT_DERIV = 0x20
SADB_X_EXT_CYCSEQ = 0x40
SADB_X_EXT_RAWCPI = 0x80
SADB_X_EXT_PRAND = 0x100
SADB_X_EXT_PZERO = 0x200
SADB_X_EXT_PSEQ = 0x000
SADB_X_EXT_PMASK = 0x300

IPSEC_PORT_ANY = 0
IPSEC_ULPROTO_ANY = 255
IPSEC_PROTO_ANY = 255
IPSEC_MANUAL_REQID_MAX = 0x3FFF
SPI_MIN = 0x100  # SPIs 1-255 are reserved (RFC 4303); the kernels allocate from 0x100
IPSEC_REPLAYWSIZE = 32

IPPROTO_ESP = 50
IPPROTO_AH = 51
IPPROTO_COMP = 108

UDP_ENCAP_ESPINUDP_NON_IKE = 1
UDP_ENCAP_ESPINUDP = 2
NAT_T_DEFAULT_PORT = 4500

PRIORITY_HIGH = 0x40000000
PRIORITY_DEFAULT = 0x80000000
PRIORITY_LOW = 0xC0000000

# Keyed by plain int, so that a message's satype (an int) looks up without a cast.
SATYPE_TO_PROTO: dict[int, int] = {SAType.AH: IPPROTO_AH, SAType.ESP: IPPROTO_ESP, SAType.IPCOMP: IPPROTO_COMP}
PROTO_TO_SATYPE: dict[int, int] = {v: k for k, v in SATYPE_TO_PROTO.items()}
# The SA types of the three IPsec transforms, in the order the TUI offers them (ESP, the usual one, first).
IPSEC_SA_TYPES: tuple[SAType, ...] = (SAType.ESP, SAType.AH, SAType.IPCOMP)

# Extension types whose body is an address (sadb_address + sockaddr).
ADDRESS_EXTS = frozenset(
    {
        ExtType.ADDRESS_SRC,
        ExtType.ADDRESS_DST,
        ExtType.ADDRESS_PROXY,
        ExtType.X_NAT_T_OA,
        ExtType.X_NAT_T_OAR,
        ExtType.X_NEW_ADDRESS_SRC,
        ExtType.X_NEW_ADDRESS_DST,
    }
)
LIFETIME_EXTS = frozenset({ExtType.LIFETIME_CURRENT, ExtType.LIFETIME_HARD, ExtType.LIFETIME_SOFT})
KEY_EXTS = frozenset({ExtType.KEY_AUTH, ExtType.KEY_ENCRYPT})
IDENTITY_EXTS = frozenset({ExtType.IDENTITY_SRC, ExtType.IDENTITY_DST})
SUPPORTED_EXTS = frozenset({ExtType.SUPPORTED_AUTH, ExtType.SUPPORTED_ENCRYPT})
NAT_T_PORT_EXTS = frozenset({ExtType.X_NAT_T_SPORT, ExtType.X_NAT_T_DPORT})


def enum_name(enum: type[IntEnum], value: int) -> str:
    """The member name for ``value``, or the decimal number when the enum has none."""
    try:
        return enum(value).name
    except ValueError:
        return str(value)


# ------------------------------------------------------------------------------------------------ names
class NameTable:
    """Display names for the numbers of one kind, and the numbers for every name (two-way lookup).

    ``name(value)`` gives the display name (the decimal number when there is none); ``value(text)`` accepts,
    case-insensitively, the display name, the aliases, the enum member name (``AESCBC``), a ``prefix`` form
    (``SADB_ADD``) and a decimal number, and raises :class:`ValueError` naming the kind otherwise.
    """

    def __init__(
        self,
        kind: str,
        enum: type[IntEnum],
        names: dict[int, str],
        *,
        aliases: dict[str, int] | None = None,
        prefix: str | Callable[[str], str] = "",
    ) -> None:
        self.kind = kind
        self.enum = enum
        self._names = {int(k): v for k, v in names.items()}
        lookup: dict[str, int] = {}
        for member in enum:
            lookup[member.name.lower()] = int(member)
            if prefix:
                full = prefix(member.name) if callable(prefix) else prefix + member.name
                lookup[full.lower()] = int(member)
        lookup.update({text.lower(): value for value, text in self._names.items()})
        lookup.update({text.lower(): int(value) for text, value in (aliases or {}).items()})
        self._lookup = lookup

    def name(self, value: int) -> str:
        """The display name of ``value``, or its decimal number."""
        return self._names.get(value, str(value))

    def value(self, text: str) -> int:
        """The number for ``text`` (name, alias, enum name or decimal); ValueError when unknown."""
        word = text.strip().lower()
        if word in self._lookup:
            return self._lookup[word]
        if word.isdigit():
            return int(word)
        raise ValueError(f"unknown {self.kind} {text!r} (known: {', '.join(self.names())})")

    def names(self) -> list[str]:
        """The display names, in numeric order."""
        return [self._names[v] for v in sorted(self._names)]

    def items(self) -> list[tuple[int, str]]:
        """(number, display name) pairs in numeric order."""
        return sorted(self._names.items())


def _sadb(prefix: str, x_prefix: str) -> Callable[[str], str]:
    """``ADD`` → ``SADB_ADD``, ``X_SPDADD`` → ``SADB_X_SPDADD``; for extensions ``SADB_EXT_SA`` and
    ``SADB_X_EXT_POLICY``."""

    def full(name: str) -> str:
        return x_prefix + name[2:] if name.startswith("X_") else prefix + name

    return full


MSG_TYPES = NameTable(
    "message type",
    MsgType,
    {m: _sadb("SADB_", "SADB_X_")(m.name) for m in MsgType},
    prefix=_sadb("SADB_", "SADB_X_"),
)
EXT_TYPES = NameTable(
    "extension type",
    ExtType,
    {e: _sadb("SADB_EXT_", "SADB_X_EXT_")(e.name) for e in ExtType},
    prefix=_sadb("SADB_EXT_", "SADB_X_EXT_"),
)
SA_TYPES = NameTable(
    "SA type",
    SAType,
    {
        SAType.UNSPEC: "unspec",
        SAType.AH: "ah",
        SAType.ESP: "esp",
        SAType.RSVP: "rsvp",
        SAType.OSPFV2: "ospfv2",
        SAType.RIPV2: "ripv2",
        SAType.MIP: "mip",
        SAType.IPCOMP: "ipcomp",
        SAType.TCPSIGNATURE: "tcp",
    },
    aliases={"esp-old": SAType.ESP, "ah-old": SAType.AH, "esp-udp": SAType.ESP, "x_ipcomp": SAType.IPCOMP},
    prefix="SADB_SATYPE_",
)
SA_STATES = NameTable("SA state", SAState, {s: s.name.lower() for s in SAState}, prefix="SADB_SASTATE_")
MODES = NameTable("mode", Mode, {m: m.name.lower() for m in Mode}, prefix="IPSEC_MODE_")
DIRECTIONS = NameTable(
    "policy direction",
    Direction,
    {
        Direction.ANY: "any",
        Direction.INBOUND: "in",
        Direction.OUTBOUND: "out",
        Direction.FWD: "fwd",
        Direction.MAX: "max",
        Direction.INVALID: "invalid",
    },
    aliases={"inbound": Direction.INBOUND, "outbound": Direction.OUTBOUND, "forward": Direction.FWD},
    prefix="IPSEC_DIR_",
)
POLICY_TYPES = NameTable(
    "policy type", PolicyType, {p: p.name.lower() for p in PolicyType}, prefix="IPSEC_POLICY_"
)
LEVELS = NameTable("level", Level, {lv: lv.name.lower() for lv in Level}, prefix="IPSEC_LEVEL_")
IDENT_TYPES = NameTable(
    "identity type",
    IdentType,
    {
        IdentType.RESERVED: "reserved",
        IdentType.PREFIX: "prefix",
        IdentType.FQDN: "fqdn",
        IdentType.USERFQDN: "user_fqdn",
        IdentType.X_ADDR: "addr",
    },
    prefix="SADB_IDENTTYPE_",
)
# Algorithms (RFC 2367 / Linux numbering; Darwin's own numbers are translated by its platform profile). Names
# are the setkey language's, so a displayed name parses back to the same algorithm.
AUTH_ALGS = NameTable(
    "authentication algorithm",
    AuthAlg,
    {
        AuthAlg.NONE: "none",
        AuthAlg.MD5HMAC: "hmac-md5",
        AuthAlg.SHA1HMAC: "hmac-sha1",
        AuthAlg.SHA2_256HMAC: "hmac-sha256",
        AuthAlg.SHA2_384HMAC: "hmac-sha384",
        AuthAlg.SHA2_512HMAC: "hmac-sha512",
        AuthAlg.RIPEMD160HMAC: "hmac-ripemd160",
        AuthAlg.AES_XCBC_MAC: "aes-xcbc-mac",
        AuthAlg.X_MD5: "keyed-md5",
        AuthAlg.X_SHA: "keyed-sha1",
        AuthAlg.X_NULL: "null",
        AuthAlg.X_TCP_MD5: "tcp-md5",
    },
    aliases={
        "hmac-sha2-256": AuthAlg.SHA2_256HMAC,
        "hmac-sha2-384": AuthAlg.SHA2_384HMAC,
        "hmac-sha2-512": AuthAlg.SHA2_512HMAC,
        "md5": AuthAlg.X_MD5,
        "sha": AuthAlg.X_SHA,
    },
    prefix="SADB_AALG_",
)
ENC_ALGS = NameTable(
    "encryption algorithm",
    EncAlg,
    {
        EncAlg.NONE: "none",
        EncAlg.DESCBC: "des-cbc",
        EncAlg.TRIPLEDESCBC: "3des-cbc",
        EncAlg.CASTCBC: "cast128-cbc",
        EncAlg.BLOWFISHCBC: "blowfish-cbc",
        EncAlg.NULL: "null",
        EncAlg.AESCBC: "aes-cbc",
        EncAlg.AESCTR: "aes-ctr",
        EncAlg.AES_CCM_ICV8: "aes-ccm-8",
        EncAlg.AES_CCM_ICV12: "aes-ccm-12",
        EncAlg.AES_CCM_ICV16: "aes-ccm-16",
        EncAlg.AES_GCM_ICV8: "aes-gcm-8",
        EncAlg.AES_GCM_ICV12: "aes-gcm-12",
        EncAlg.AES_GCM_ICV16: "aes-gcm-16",
        EncAlg.CAMELLIACBC: "camellia-cbc",
        EncAlg.NULL_AES_GMAC: "aes-gmac",
        EncAlg.SERPENTCBC: "serpent-cbc",
        EncAlg.TWOFISHCBC: "twofish-cbc",
    },
    aliases={
        "rijndael-cbc": EncAlg.AESCBC,
        "simple": EncAlg.NULL,
        "des-deriv": EncAlg.DESCBC,
        "des-32iv": EncAlg.DESCBC,
    },
    prefix="SADB_EALG_",
)
COMP_ALGS = NameTable(
    "compression algorithm", CompAlg, {c: c.name.lower() for c in CompAlg}, prefix="SADB_X_CALG_"
)


class IpsecProto(IntEnum):
    """IP protocol numbers of the IPsec transforms (policy requests, SA types)."""

    ESP = IPPROTO_ESP
    AH = IPPROTO_AH
    IPCOMP = IPPROTO_COMP


IPSEC_PROTOS = NameTable(
    "IPsec protocol", IpsecProto, {p: p.name.lower() for p in IpsecProto}, prefix="IPPROTO_"
)

NAME_TABLES: dict[str, NameTable] = {
    "msg_type": MSG_TYPES,
    "ext_type": EXT_TYPES,
    "satype": SA_TYPES,
    "state": SA_STATES,
    "mode": MODES,
    "dir": DIRECTIONS,
    "policy_type": POLICY_TYPES,
    "level": LEVELS,
    "ident_type": IDENT_TYPES,
    "auth": AUTH_ALGS,
    "encrypt": ENC_ALGS,
    "comp": COMP_ALGS,
    "ipsec_proto": IPSEC_PROTOS,
}


def display_name(kind: str, value: int) -> str:
    """The display name of ``value`` in table ``kind`` (a key of :data:`NAME_TABLES`)."""
    return NAME_TABLES[kind].name(value)


def number_of(kind: str, name: str) -> int:
    """The number of ``name`` in table ``kind`` (a key of :data:`NAME_TABLES`); ValueError when unknown."""
    return NAME_TABLES[kind].value(name)
