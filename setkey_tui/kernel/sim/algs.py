"""Which algorithms and key sizes the simulated Linux kernel accepts (as its crypto layer would).

af_key itself only refuses unknown algorithm numbers (ENOSYS); a key of the wrong size is refused when the
crypto transform is keyed (EINVAL). HMACs take keys of any length.
"""

from __future__ import annotations

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_COMP, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.pfkey.constants import AuthAlg, EncAlg
from setkey_tui.pfkey.extensions import Alg

_AES = frozenset({16, 24, 32})

# IPComp: Linux's crypto API has a deflate compressor only; lzs and lzjh are listed by xfrm but never
# available, so af_key answers ENOSYS for them.
COMP_AVAILABLE: frozenset[int] = LINUX_SUPPORTED_COMP

# Accepted key sizes in bytes for the ciphers (None: any size).
ENC_KEY_BYTES: dict[int, frozenset[int] | None] = {
    EncAlg.NULL: None,
    EncAlg.DESCBC: frozenset({8}),
    EncAlg.TRIPLEDESCBC: frozenset({24}),
    EncAlg.CASTCBC: frozenset(range(5, 17)),
    EncAlg.BLOWFISHCBC: frozenset(range(4, 57)),
    EncAlg.AESCBC: _AES,
    EncAlg.SERPENTCBC: frozenset(range(0, 33)),
    EncAlg.CAMELLIACBC: _AES,
    EncAlg.TWOFISHCBC: _AES,
    EncAlg.AESCTR: frozenset({20, 28, 36}),
}
AUTH_KEY_BYTES: dict[int, frozenset[int] | None] = {
    AuthAlg.X_NULL: None,
    AuthAlg.AES_XCBC_MAC: _AES,
}


def supported(algs: tuple[Alg, ...], alg_id: int) -> bool:
    """Whether ``alg_id`` is in a supported list."""
    return any(a.id == alg_id for a in algs)


def auth_supported(alg_id: int, algs: tuple[Alg, ...] = LINUX_SUPPORTED_AUTH) -> bool:
    """An authentication algorithm af_key knows."""
    return supported(algs, alg_id)


def enc_supported(alg_id: int, algs: tuple[Alg, ...] = LINUX_SUPPORTED_ENCRYPT) -> bool:
    """An encryption algorithm af_key knows."""
    return supported(algs, alg_id)


def comp_supported(alg_id: int) -> bool:
    """An IPComp algorithm the kernel can load."""
    return alg_id in COMP_AVAILABLE


def enc_key_ok(alg_id: int, nbytes: int) -> bool:
    """Whether a cipher accepts a key of ``nbytes`` bytes."""
    sizes = ENC_KEY_BYTES.get(alg_id)
    return sizes is None or nbytes in sizes


def auth_key_ok(alg_id: int, nbytes: int) -> bool:
    """Whether an authentication algorithm accepts a key of ``nbytes`` bytes (HMACs: any)."""
    sizes = AUTH_KEY_BYTES.get(alg_id)
    return sizes is None or nbytes in sizes
