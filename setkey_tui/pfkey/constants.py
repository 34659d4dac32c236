"""PF_KEY v2 numbers (RFC 2367 plus the KAME and Linux extensions), Linux numbering.

Numbers that differ on FreeBSD or Darwin are translated by :mod:`setkey_tui.pfkey.platform`; everything
in the codec and the model uses the Linux/RFC values defined here.
"""

from __future__ import annotations

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

SATYPE_TO_PROTO = {SAType.AH: IPPROTO_AH, SAType.ESP: IPPROTO_ESP, SAType.IPCOMP: IPPROTO_COMP}
PROTO_TO_SATYPE = {v: k for k, v in SATYPE_TO_PROTO.items()}

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
