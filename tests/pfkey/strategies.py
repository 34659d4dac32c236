"""Hypothesis strategies for valid PF_KEY messages: one strategy per extension, per platform profile.

"Valid" means a value the codec can put on the wire and read back equal: trailers only where the decoder
can tell them from padding, variable parts whose length the structure implies, and extension and message
types that exist on the platform.
"""

from __future__ import annotations

from hypothesis import strategies as st

from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Alg,
    Comb,
    Extension,
    FilterExt,
    IdentityExt,
    IpsecRequest,
    KeyExt,
    KMAddressExt,
    KMPrivateExt,
    LifetimeExt,
    NatTFragExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    ProposalExt,
    RawExt,
    SA2Ext,
    SAExt,
    SAReplayExt,
    SecCtxExt,
    SensitivityExt,
    Sockaddr,
    SPIRangeExt,
    SupportedExt,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import AF_INET, Platform

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)


def blocks(max_blocks: int = 3) -> st.SearchStrategy[bytes]:
    """Bytes whose length is a multiple of 8."""
    return st.integers(0, max_blocks).flatmap(lambda k: st.binary(min_size=8 * k, max_size=8 * k))


def trailer(content_len: int) -> st.SearchStrategy[bytes]:
    """A trailer that survives a round trip after ``content_len`` bytes of structure: empty, or bytes that
    end on an 8-byte boundary and are not exactly the canonical zero padding."""
    pad = (-content_len) % 8

    def ok(t: bytes) -> bool:
        return not (len(t) == pad and t.count(0) == pad)

    return st.one_of(
        st.just(b""),
        st.sampled_from([pad, pad + 8]).flatmap(lambda n: st.binary(min_size=n, max_size=n)).filter(ok),
    )


def sockaddr_size(sa: Sockaddr) -> int:
    """Bytes the sockaddr takes on the wire."""
    return sa.sa_len or (28 if len(sa.addr) == 16 else 16)


def sockaddrs(p: Platform) -> st.SearchStrategy[Sockaddr]:
    """IPv4 and IPv6 sockaddrs of platform ``p`` (BSD ones sometimes longer than natural)."""
    zero = st.one_of(st.just(b""), st.binary(min_size=8, max_size=8).filter(lambda z: z.count(0) != 8))
    v4 = st.builds(
        Sockaddr,
        st.just(AF_INET),
        u16,
        st.binary(min_size=4, max_size=4),
        st.just(0),
        st.just(0),
        st.just(0),
        zero,
    )
    v6 = st.builds(
        Sockaddr,
        st.just(p.af_inet6),
        u16,
        st.binary(min_size=16, max_size=16),
        u32,
        u32,
        st.just(0),
        st.just(b""),
    )
    if not p.bsd_sockaddr:
        return st.one_of(v4, v6)

    @st.composite
    def longer(draw: st.DrawFn) -> Sockaddr:
        v6 = draw(st.booleans())
        natural = 28 if v6 else 16
        sa_len = draw(st.integers(natural + 1, natural + 24))
        tail = sa_len - (28 if v6 else 8)
        extra = draw(
            st.one_of(st.just(b""), st.binary(min_size=tail, max_size=tail).filter(lambda z: any(z)))
        )
        if v6:
            return Sockaddr(
                p.af_inet6,
                draw(u16),
                draw(st.binary(min_size=16, max_size=16)),
                draw(u32),
                draw(u32),
                sa_len,
                extra,
            )
        return Sockaddr(AF_INET, draw(u16), draw(st.binary(min_size=4, max_size=4)), 0, 0, sa_len, extra)

    return st.one_of(v4, v6, longer())


@st.composite
def address_exts(draw: st.DrawFn, p: Platform, ext_type: int) -> AddressExt:
    sa = draw(sockaddrs(p))
    return AddressExt(ext_type, sa, draw(u8), draw(u8), draw(u16), draw(trailer(8 + sockaddr_size(sa))))


@st.composite
def key_exts(draw: st.DrawFn, ext_type: int) -> KeyExt:
    n = draw(st.integers(0, 64))
    bits = draw(st.integers(max(8 * n - 7, 0), 8 * n))
    return KeyExt(ext_type, bits, draw(st.binary(min_size=n, max_size=n)), draw(u16), draw(trailer(8 + n)))


@st.composite
def sec_ctx_exts(draw: st.DrawFn) -> SecCtxExt:
    ctx = draw(st.binary(max_size=40))
    return SecCtxExt(draw(u8), draw(u8), ctx, ExtType.X_SEC_CTX, draw(trailer(8 + len(ctx))))


@st.composite
def kmaddress_exts(draw: st.DrawFn, p: Platform) -> KMAddressExt:
    a, b = draw(sockaddrs(p)), draw(sockaddrs(p))
    return KMAddressExt(
        a, b, draw(u32), ExtType.X_KMADDRESS, draw(trailer(8 + sockaddr_size(a) + sockaddr_size(b)))
    )


@st.composite
def requests(draw: st.DrawFn, p: Platform) -> IpsecRequest:
    tunnel = draw(st.booleans())
    src = draw(sockaddrs(p)) if tunnel else None
    dst = draw(sockaddrs(p)) if tunnel else None
    if p.ipsecrequest_size == 16:
        return IpsecRequest(draw(u16), draw(u8), draw(u8), draw(u32), src, dst, draw(u16), draw(u32))
    return IpsecRequest(draw(u16), draw(u8), draw(u8), draw(u16), src, dst)


def policy_exts(p: Platform) -> st.SearchStrategy[PolicyExt]:
    return st.builds(
        PolicyExt,
        u16,
        u8,
        u32,
        u32,
        st.lists(requests(p), max_size=3).map(tuple),
        u8,
        st.just(ExtType.X_POLICY),
        st.just(b""),
    )


def combs() -> st.SearchStrategy[Comb]:
    return st.builds(Comb, u8, u8, u16, u16, u16, u16, u16, u32, u32, u32, u64, u64, u64, u64, u64, u64)


def extension_strategies(p: Platform) -> dict[int, st.SearchStrategy[Extension]]:
    """Canonical extension type → strategy, for every extension type ``p`` has on its wire."""
    sa = st.builds(SAExt, u32, u8, u8, u8, u8, u32, st.just(ExtType.SA), trailer(16))
    every: dict[int, st.SearchStrategy[Extension]] = {
        ExtType.SA: sa,
        ExtType.IDENTITY_SRC: st.builds(IdentityExt, st.just(ExtType.IDENTITY_SRC), u16, u64, blocks(), u16),
        ExtType.IDENTITY_DST: st.builds(IdentityExt, st.just(ExtType.IDENTITY_DST), u16, u64, blocks(), u16),
        ExtType.SENSITIVITY: st.builds(
            SensitivityExt, u32, u8, u8, u8, u8, u32, blocks(), st.just(ExtType.SENSITIVITY)
        ),
        ExtType.PROPOSAL: st.builds(
            ProposalExt,
            u8,
            st.lists(combs(), max_size=3).map(tuple),
            st.binary(min_size=3, max_size=3),
            st.just(ExtType.PROPOSAL),
            blocks(2),
        ),
        ExtType.SPIRANGE: st.builds(SPIRangeExt, u32, u32, u32, st.just(ExtType.SPIRANGE), trailer(16)),
        ExtType.X_KMPRIVATE: st.builds(KMPrivateExt, u32, blocks(), st.just(ExtType.X_KMPRIVATE)),
        ExtType.X_POLICY: policy_exts(p),
        ExtType.X_SA2: st.builds(SA2Ext, u8, u32, u32, u8, u16, st.just(ExtType.X_SA2), trailer(16)),
        ExtType.X_NAT_T_TYPE: st.builds(
            NatTTypeExt, u8, st.binary(min_size=3, max_size=3), st.just(ExtType.X_NAT_T_TYPE), trailer(8)
        ),
        ExtType.X_SEC_CTX: sec_ctx_exts(),
        ExtType.X_KMADDRESS: kmaddress_exts(p),
        ExtType.X_FILTER: st.builds(
            FilterExt,
            st.binary(min_size=16, max_size=16),
            st.binary(min_size=16, max_size=16),
            u16,
            u8,
            u8,
            st.just(ExtType.X_FILTER),
            trailer(40),
        ),
        ExtType.X_SA_REPLAY: st.builds(SAReplayExt, u32, st.just(ExtType.X_SA_REPLAY), trailer(8)),
        ExtType.X_NAT_T_FRAG: st.builds(NatTFragExt, u16, u16, st.just(ExtType.X_NAT_T_FRAG), trailer(8)),
    }
    for t in (ExtType.LIFETIME_CURRENT, ExtType.LIFETIME_HARD, ExtType.LIFETIME_SOFT):
        every[t] = st.builds(LifetimeExt, st.just(t), u32, u64, u64, u64, trailer(32))
    for t in (
        ExtType.ADDRESS_SRC,
        ExtType.ADDRESS_DST,
        ExtType.ADDRESS_PROXY,
        ExtType.X_NAT_T_OA,
        ExtType.X_NAT_T_OAR,
        ExtType.X_NEW_ADDRESS_SRC,
        ExtType.X_NEW_ADDRESS_DST,
    ):
        every[t] = address_exts(p, t)
    for t in (ExtType.KEY_AUTH, ExtType.KEY_ENCRYPT):
        every[t] = key_exts(t)
    for t in (ExtType.SUPPORTED_AUTH, ExtType.SUPPORTED_ENCRYPT):
        every[t] = st.builds(
            SupportedExt,
            st.just(t),
            st.lists(st.builds(Alg, u8, u8, u16, u16, u16), max_size=4).map(tuple),
            u32,
            st.just(b""),
        )
    for t in (ExtType.X_NAT_T_SPORT, ExtType.X_NAT_T_DPORT):
        every[t] = st.builds(NatTPortExt, st.just(t), u16, u16, trailer(8))
    return {t: s for t, s in every.items() if t in p.ext_to_wire}


def raw_exts(p: Platform) -> st.SearchStrategy[RawExt]:
    """Extensions whose wire number ``p`` does not know, kept raw."""
    known = set(p.ext_from_wire)
    return st.builds(
        RawExt,
        u16.filter(lambda w: w not in known),
        st.integers(0, 3).flatmap(lambda k: st.binary(min_size=8 * k + 4, max_size=8 * k + 4)),
    )


def extensions(p: Platform) -> st.SearchStrategy[Extension]:
    """Any extension of platform ``p``, raw ones included."""
    return st.one_of(*extension_strategies(p).values(), raw_exts(p))


def messages(p: Platform) -> st.SearchStrategy[Message]:
    """Whole valid messages of platform ``p``."""
    return st.builds(
        Message,
        st.sampled_from(sorted(p.msg_to_wire)),
        u8,
        u32,
        u32,
        u8,
        st.lists(extensions(p), max_size=6).map(tuple),
        u8,
        u16,
    )


def message_types(p: Platform) -> list[int]:
    """The canonical message types ``p`` can put on the wire."""
    return sorted(m for m in MsgType if m in p.msg_to_wire)
