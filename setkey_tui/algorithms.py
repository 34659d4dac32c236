"""Algorithm names of the setkey language, their PF_KEY numbers, and the kernels' key-length tables."""

from __future__ import annotations

from setkey_tui.pfkey.constants import AuthAlg, CompAlg, EncAlg
from setkey_tui.pfkey.extensions import Alg

# -A names (ipsec-tools on Linux; aliases included).
AUTH_BY_NAME: dict[str, int] = {
    "hmac-md5": AuthAlg.MD5HMAC,
    "hmac-sha1": AuthAlg.SHA1HMAC,
    "keyed-md5": AuthAlg.X_MD5,
    "keyed-sha1": AuthAlg.X_SHA,
    "hmac-sha2-256": AuthAlg.SHA2_256HMAC,
    "hmac-sha2-384": AuthAlg.SHA2_384HMAC,
    "hmac-sha2-512": AuthAlg.SHA2_512HMAC,
    "hmac-sha256": AuthAlg.SHA2_256HMAC,
    "hmac-sha384": AuthAlg.SHA2_384HMAC,
    "hmac-sha512": AuthAlg.SHA2_512HMAC,
    "hmac-ripemd160": AuthAlg.RIPEMD160HMAC,
    "aes-xcbc-mac": AuthAlg.AES_XCBC_MAC,
    "tcp-md5": AuthAlg.X_TCP_MD5,
    "null": AuthAlg.X_NULL,
}
# -A names that take no key.
AUTH_NOKEY = frozenset({"null"})

# -E names. des-deriv / des-32iv map to DES-CBC plus a flag; simple is the keyless, obsolete null.
ENC_BY_NAME: dict[str, int] = {
    "des-cbc": EncAlg.DESCBC,
    "3des-cbc": EncAlg.TRIPLEDESCBC,
    "null": EncAlg.NULL,
    "simple": EncAlg.NULL,
    "blowfish-cbc": EncAlg.BLOWFISHCBC,
    "cast128-cbc": EncAlg.CASTCBC,
    "des-deriv": EncAlg.DESCBC,
    "des-32iv": EncAlg.DESCBC,
    "twofish-cbc": EncAlg.TWOFISHCBC,
    "aes-cbc": EncAlg.AESCBC,
    "rijndael-cbc": EncAlg.AESCBC,
    "aes-ctr": EncAlg.AESCTR,
    "camellia-cbc": EncAlg.CAMELLIACBC,
}
ENC_NOKEY = frozenset({"null", "simple"})

COMP_BY_NAME: dict[str, int] = {"oui": CompAlg.OUI, "deflate": CompAlg.DEFLATE, "lzs": CompAlg.LZS}
COMP_NAMES: dict[int, str] = {0: "none", 1: "oui", 2: "deflate", 3: "lzs"}

# What a Linux 6.1 kernel answers to SADB_REGISTER, in its order (bits).
LINUX_SUPPORTED_AUTH: tuple[Alg, ...] = (
    Alg(AuthAlg.X_NULL, 0, 0, 0),
    Alg(AuthAlg.MD5HMAC, 0, 128, 128),
    Alg(AuthAlg.SHA1HMAC, 0, 160, 160),
    Alg(AuthAlg.SHA2_256HMAC, 0, 256, 256),
    Alg(AuthAlg.SHA2_384HMAC, 0, 384, 384),
    Alg(AuthAlg.SHA2_512HMAC, 0, 512, 512),
    Alg(AuthAlg.RIPEMD160HMAC, 0, 160, 160),
    Alg(AuthAlg.AES_XCBC_MAC, 0, 128, 128),
)
LINUX_SUPPORTED_ENCRYPT: tuple[Alg, ...] = (
    Alg(EncAlg.NULL, 0, 0, 0),
    Alg(EncAlg.DESCBC, 8, 64, 64),
    Alg(EncAlg.TRIPLEDESCBC, 8, 192, 192),
    Alg(EncAlg.CASTCBC, 8, 40, 128),
    Alg(EncAlg.BLOWFISHCBC, 8, 40, 448),
    Alg(EncAlg.AESCBC, 8, 128, 256),
    Alg(EncAlg.SERPENTCBC, 8, 128, 256),
    Alg(EncAlg.CAMELLIACBC, 8, 128, 256),
    Alg(EncAlg.TWOFISHCBC, 8, 128, 256),
    Alg(EncAlg.AESCTR, 8, 160, 288),
)
# IPComp algorithms a Linux 6.1 kernel accepts over PF_KEY (lzs and lzjh are refused with ENOSYS).
LINUX_SUPPORTED_COMP: frozenset[int] = frozenset({CompAlg.DEFLATE})


def find_alg(algs: tuple[Alg, ...], alg_id: int) -> Alg | None:
    """The entry for ``alg_id`` in a supported list, or None."""
    for a in algs:
        if a.id == alg_id:
            return a
    return None
