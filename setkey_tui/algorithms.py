"""Algorithm names of the setkey language, their PF_KEY numbers, and the kernels' key-length tables."""

from __future__ import annotations

from setkey_tui.pfkey.constants import AUTH_ALGS, COMP_ALGS, ENC_ALGS, AuthAlg, CompAlg, EncAlg
from setkey_tui.pfkey.extensions import Alg

# The algorithm words of the setkey language (ipsec-tools' token.l on Linux, aliases included); their numbers
# come from pfkey/constants.py's tables, whose display names are these words.
AUTH_WORDS: tuple[str, ...] = (
    "hmac-md5", "hmac-sha1", "keyed-md5", "keyed-sha1", "hmac-sha2-256", "hmac-sha2-384", "hmac-sha2-512",
    "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-ripemd160", "aes-xcbc-mac", "tcp-md5", "null",
)
# des-deriv / des-32iv are DES-CBC plus a flag; simple is the keyless, obsolete null.
ENC_WORDS: tuple[str, ...] = (
    "des-cbc", "3des-cbc", "null", "simple", "blowfish-cbc", "cast128-cbc", "des-deriv", "des-32iv",
    "twofish-cbc", "aes-cbc", "rijndael-cbc", "aes-ctr", "camellia-cbc",
)
COMP_WORDS: tuple[str, ...] = ("oui", "deflate", "lzs")

# -A names → numbers.
AUTH_BY_NAME: dict[str, int] = {w: AUTH_ALGS.value(w) for w in AUTH_WORDS}
# -A names that take no key.
AUTH_NOKEY = frozenset({AUTH_ALGS.name(AuthAlg.X_NULL)})
# -E names → numbers.
ENC_BY_NAME: dict[str, int] = {w: ENC_ALGS.value(w) for w in ENC_WORDS}
ENC_NOKEY = frozenset({ENC_ALGS.name(EncAlg.NULL), "simple"})
# -C names → numbers, and back (0 is "none").
COMP_BY_NAME: dict[str, int] = {w: COMP_ALGS.value(w) for w in COMP_WORDS}
COMP_NAMES: dict[int, str] = {int(c): COMP_ALGS.name(c) for c in (CompAlg.NONE, *COMP_BY_NAME.values())}

# One word per algorithm, the name setkey prints for it (the aliases left out): what a form offers.
AUTH_CHOICE_WORDS: tuple[str, ...] = tuple(w for w in AUTH_WORDS if AUTH_ALGS.name(AUTH_BY_NAME[w]) == w)
ENC_CHOICE_WORDS: tuple[str, ...] = tuple(w for w in ENC_WORDS if ENC_ALGS.name(ENC_BY_NAME[w]) == w)

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
