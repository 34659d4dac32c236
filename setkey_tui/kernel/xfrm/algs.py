"""The kernel's algorithm table as af_key sees it (``net/xfrm/xfrm_algo.c``): PF_KEY ids ↔ XFRM names.

af_key names an algorithm by its ``sadb_alg_id``; XFRM by its crypto name. A state whose algorithm has no
PF_KEY id (``pfkey_supported`` 0, or an AEAD) shows id 0 over PF_KEY, exactly as af_key shows it.
"""

from __future__ import annotations

from typing import NamedTuple

from setkey_tui.pfkey.constants import AuthAlg, CompAlg, EncAlg


class AlgInfo(NamedTuple):
    """One table entry: the PF_KEY id, the canonical XFRM name, other names the kernel accepts, and (auth) the
    default ICV truncation in bits."""

    id: int
    name: str
    compat: tuple[str, ...] = ()
    trunc_bits: int = 0


AUTH: tuple[AlgInfo, ...] = (
    AlgInfo(AuthAlg.X_NULL, "digest_null", (), 0),
    AlgInfo(AuthAlg.MD5HMAC, "hmac(md5)", ("md5",), 96),
    AlgInfo(AuthAlg.SHA1HMAC, "hmac(sha1)", ("sha1",), 96),
    AlgInfo(AuthAlg.SHA2_256HMAC, "hmac(sha256)", ("sha256",), 96),
    AlgInfo(AuthAlg.SHA2_384HMAC, "hmac(sha384)", ("sha384",), 192),
    AlgInfo(AuthAlg.SHA2_512HMAC, "hmac(sha512)", ("sha512",), 256),
    AlgInfo(AuthAlg.RIPEMD160HMAC, "hmac(rmd160)", ("rmd160",), 96),
    AlgInfo(AuthAlg.AES_XCBC_MAC, "xcbc(aes)", (), 96),
)
ENCRYPT: tuple[AlgInfo, ...] = (
    AlgInfo(EncAlg.NULL, "ecb(cipher_null)", ("cipher_null",)),
    AlgInfo(EncAlg.DESCBC, "cbc(des)", ("des",)),
    AlgInfo(EncAlg.TRIPLEDESCBC, "cbc(des3_ede)", ("des3_ede",)),
    AlgInfo(EncAlg.CASTCBC, "cbc(cast5)", ("cast5", "cast128")),
    AlgInfo(EncAlg.BLOWFISHCBC, "cbc(blowfish)", ("blowfish",)),
    AlgInfo(EncAlg.AESCBC, "cbc(aes)", ("aes",)),
    AlgInfo(EncAlg.SERPENTCBC, "cbc(serpent)", ("serpent",)),
    AlgInfo(EncAlg.CAMELLIACBC, "cbc(camellia)", ("camellia",)),
    AlgInfo(EncAlg.TWOFISHCBC, "cbc(twofish)", ("twofish",)),
    AlgInfo(EncAlg.AESCTR, "rfc3686(ctr(aes))", ()),
)
COMP: tuple[AlgInfo, ...] = (
    AlgInfo(CompAlg.DEFLATE, "deflate"),
    AlgInfo(CompAlg.LZS, "lzs"),
    AlgInfo(CompAlg.LZJH, "lzjh"),
)


def _by_name(table: tuple[AlgInfo, ...]) -> dict[str, AlgInfo]:
    out: dict[str, AlgInfo] = {}
    for a in table:
        out[a.name] = a
        for c in a.compat:
            out.setdefault(c, a)
    return out


AUTH_BY_ID = {a.id: a for a in AUTH}
ENCRYPT_BY_ID = {a.id: a for a in ENCRYPT}
COMP_BY_ID = {a.id: a for a in COMP}
AUTH_BY_NAME = _by_name(AUTH)
ENCRYPT_BY_NAME = _by_name(ENCRYPT)
COMP_BY_NAME = _by_name(COMP)


def auth_id(name: str) -> int:
    """The PF_KEY id of an XFRM authentication algorithm name (0 when PF_KEY has none)."""
    a = AUTH_BY_NAME.get(name)
    return a.id if a else 0


def encrypt_id(name: str) -> int:
    """The PF_KEY id of an XFRM cipher name (0 when PF_KEY has none)."""
    a = ENCRYPT_BY_NAME.get(name)
    return a.id if a else 0


def comp_id(name: str) -> int:
    """The PF_KEY id of an XFRM compression name (0 when PF_KEY has none)."""
    a = COMP_BY_NAME.get(name)
    return a.id if a else 0


def default_trunc(name: str) -> int | None:
    """The ICV truncation af_key gives an authentication algorithm (None: not in af_key's table)."""
    a = AUTH_BY_NAME.get(name)
    return a.trunc_bits if a else None
