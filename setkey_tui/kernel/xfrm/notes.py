"""What an XFRM state or policy holds that PF_KEY cannot say, kept beside the translated message.

af_key drops these silently (AEAD algorithms, ESN and wide replay windows, marks, interface ids, offload,
truncation lengths other than its table's, the full SA selector …). The XFRM transport keeps them as
:class:`Notes`: one ``(attribute, value)`` line each, and ``inexpressible`` when the PF_KEY message itself
is misleading (an AEAD SA shows no cipher at all).
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from setkey_tui.kernel.xfrm import algs
from setkey_tui.kernel.xfrm import structs as S


class Notes(NamedTuple):
    """The XFRM facts PF_KEY lost for one SA or policy."""

    lines: tuple[tuple[str, str], ...] = ()
    inexpressible: str | None = None
    raw_attrs: tuple[tuple[int, bytes], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.lines) or self.inexpressible is not None

    def text(self) -> list[str]:
        """Human lines, e.g. ``xfrm: aead rfc4106(gcm(aes)) icv 128 bits``."""
        out = [f"xfrm: {k} {v}" for k, v in self.lines]
        if self.inexpressible:
            out.insert(0, f"xfrm: not expressible in PF_KEY: {self.inexpressible}")
        return out


def _ip(family: int, raw: bytes) -> str:
    if family == S.AF_INET6:
        return str(ipaddress.IPv6Address(raw[:16]))
    return str(ipaddress.IPv4Address(raw[:4]))


def _mark(attrs: dict[int, bytes], attr: int) -> str | None:
    raw = attrs.get(attr)
    if raw is None or len(raw) < 8:
        return None
    v, m = S.unpack_mark(raw)
    return f"0x{v:x}/0x{m:x}"


def _common(attrs: dict[int, bytes], out: list[tuple[str, str]]) -> None:
    mark = _mark(attrs, S.XFRMA_MARK)
    if mark:
        out.append(("mark", mark))
    raw = attrs.get(S.XFRMA_IF_ID)
    if raw is not None and len(raw) >= 4:
        out.append(("if_id", f"0x{S.unpack_u32(raw):x}"))


def selector_text(sel: S.Selector) -> str:
    """``src/plen[port] dst/plen[port] proto N dev N``."""
    fam = sel.family or S.AF_INET
    text = f"src {_ip(fam, sel.saddr)}/{sel.prefixlen_s}"
    if sel.sport:
        text += f" sport {sel.sport}"
    text += f" dst {_ip(fam, sel.daddr)}/{sel.prefixlen_d}"
    if sel.dport:
        text += f" dport {sel.dport}"
    if sel.proto:
        text += f" proto {sel.proto}"
    if sel.ifindex:
        text += f" dev {sel.ifindex}"
    return text


_KNOWN_SA_ATTRS = frozenset({
    S.XFRMA_ALG_AUTH, S.XFRMA_ALG_CRYPT, S.XFRMA_ALG_COMP, S.XFRMA_ENCAP, S.XFRMA_SEC_CTX, S.XFRMA_LASTUSED,
    S.XFRMA_ALG_AUTH_TRUNC, S.XFRMA_REPLAY_VAL, S.XFRMA_LTIME_VAL, S.XFRMA_PAD, S.XFRMA_SA,
})


_SA_NOTE_ATTRS = frozenset({
    S.XFRMA_ALG_AEAD, S.XFRMA_REPLAY_ESN_VAL, S.XFRMA_MARK, S.XFRMA_IF_ID, S.XFRMA_SET_MARK, S.XFRMA_OFFLOAD_DEV,
    S.XFRMA_TFCPAD, S.XFRMA_SA_EXTRA_FLAGS, S.XFRMA_COADDR, S.XFRMA_SA_DIR, S.XFRMA_ENCAP,
})
_PLAIN_FLAGS = S.STATE_NOECN | S.STATE_DECAP_DSCP | S.STATE_NOPMTUDISC
_ZERO16 = bytes(16)
_TRUNC_BY_NAME = {n.encode(): a.trunc_bits for n, a in algs.AUTH_BY_NAME.items()}
_ENC_NAMES = frozenset(n.encode() for n in algs.ENCRYPT_BY_NAME)
_COMP_NAMES = frozenset(n.encode() for n in algs.COMP_BY_NAME)


def state_may_have_notes(info: S.UserSAInfo, attrs: dict[int, bytes]) -> bool:
    """A cheap test: False when :func:`state_notes` would surely find nothing (most SAs setkey made)."""
    sel = info.sel
    if (info.flags & ~_PLAIN_FLAGS or not _SA_NOTE_ATTRS.isdisjoint(attrs) or sel.prefixlen_d or sel.dport
            or sel.sport or sel.proto or sel.ifindex or sel.daddr != _ZERO16):
        return True
    raw = attrs.get(S.XFRMA_ALG_AUTH_TRUNC)
    if raw is not None:
        name = raw[:64].split(b"\0", 1)[0]
        if _TRUNC_BY_NAME.get(name) != S.unpack_u32(raw[68:72]):
            return True
    elif (raw := attrs.get(S.XFRMA_ALG_AUTH)) is not None and raw[:64].split(b"\0", 1)[0] not in _TRUNC_BY_NAME:
        return True
    raw = attrs.get(S.XFRMA_ALG_CRYPT)
    if raw is not None and raw[:64].split(b"\0", 1)[0] not in _ENC_NAMES:
        return True
    raw = attrs.get(S.XFRMA_ALG_COMP)
    return raw is not None and raw[:64].split(b"\0", 1)[0] not in _COMP_NAMES


def state_notes(info: S.UserSAInfo, attrs: dict[int, bytes]) -> Notes:
    """What PF_KEY cannot say about this state."""
    out: list[tuple[str, str]] = []
    inexpressible: str | None = None
    aead = attrs.get(S.XFRMA_ALG_AEAD)
    if aead is not None:
        a = S.Algo.unpack(aead, with_extra=True)
        out.append(("aead", f"{a.name} key {a.key_bits} bits icv {a.extra} bits"))
        inexpressible = f"AEAD {a.name}: af_key shows no cipher and no key for it"
    trunc = attrs.get(S.XFRMA_ALG_AUTH_TRUNC)
    if trunc is not None:
        a = S.Algo.unpack(trunc, with_extra=True)
        default = algs.default_trunc(a.name)
        if default is None:
            out.append(("auth", f"{a.name} (no PF_KEY id) trunc {a.extra} bits"))
        elif a.extra != default:
            out.append(("auth-trunc", f"{a.name} {a.extra} bits (PF_KEY implies {default})"))
    else:
        auth = attrs.get(S.XFRMA_ALG_AUTH)
        if auth is not None:
            a = S.Algo.unpack(auth)
            if not algs.auth_id(a.name):
                out.append(("auth", f"{a.name} (no PF_KEY id)"))
    crypt = attrs.get(S.XFRMA_ALG_CRYPT)
    if crypt is not None:
        a = S.Algo.unpack(crypt)
        if not algs.encrypt_id(a.name):
            out.append(("enc", f"{a.name} (no PF_KEY id)"))
            inexpressible = inexpressible or f"cipher {a.name} has no PF_KEY id"
    comp = attrs.get(S.XFRMA_ALG_COMP)
    if comp is not None:
        a = S.Algo.unpack(comp)
        if not algs.comp_id(a.name):
            out.append(("comp", f"{a.name} (no PF_KEY id)"))
    if info.flags & S.STATE_ESN:
        out.append(("flag", "esn"))
    extra_flags = info.flags & ~(S.STATE_NOECN | S.STATE_DECAP_DSCP | S.STATE_NOPMTUDISC | S.STATE_ESN)
    if extra_flags:
        out.append(("flags", f"0x{extra_flags:x}"))
    esn = attrs.get(S.XFRMA_REPLAY_ESN_VAL)
    if esn is not None and len(esn) >= 24:
        e = S.unpack_replay_esn(esn)
        out.append(("replay-esn", f"window {e['replay_window']} oseq-hi {e['oseq_hi']} seq-hi {e['seq_hi']}"))
    _common(attrs, out)
    omark = attrs.get(S.XFRMA_SET_MARK)
    if omark is not None and len(omark) >= 4:
        mask = attrs.get(S.XFRMA_SET_MARK_MASK)
        m = S.unpack_u32(mask) if mask is not None and len(mask) >= 4 else 0xFFFFFFFF
        out.append(("output-mark", f"0x{S.unpack_u32(omark):x}/0x{m:x}"))
    off = attrs.get(S.XFRMA_OFFLOAD_DEV)
    if off is not None and len(off) >= 5:
        ifindex, oflags = S.unpack_offload(off)
        out.append(("offload", f"dev {ifindex} flags 0x{oflags:x}"))
    tfc = attrs.get(S.XFRMA_TFCPAD)
    if tfc is not None and len(tfc) >= 4 and S.unpack_u32(tfc):
        out.append(("tfcpad", str(S.unpack_u32(tfc))))
    xflags = attrs.get(S.XFRMA_SA_EXTRA_FLAGS)
    if xflags is not None and len(xflags) >= 4 and S.unpack_u32(xflags):
        out.append(("extra-flag", f"0x{S.unpack_u32(xflags):x}"))
    coaddr = attrs.get(S.XFRMA_COADDR)
    if coaddr is not None:
        out.append(("coaddr", _ip(info.family, coaddr)))
    sadir = attrs.get(S.XFRMA_SA_DIR)
    if sadir:
        out.append(("dir", {1: "in", 2: "out"}.get(sadir[0], str(sadir[0]))))
    encap = attrs.get(S.XFRMA_ENCAP)
    if encap is not None and len(encap) >= 24:
        tmpl = S.EncapTmpl.unpack(encap)
        if any(tmpl.oa):
            out.append(("encap-oa", _ip(info.family, tmpl.oa)))
    sel = info.sel
    if sel.daddr.strip(b"\0") or sel.prefixlen_d or sel.dport or sel.sport or sel.proto or sel.ifindex:
        out.append(("sel", selector_text(sel)))
    raw = tuple((t, v) for t, v in attrs.items() if t not in _KNOWN_SA_ATTRS)
    return Notes(tuple(out), inexpressible, raw)


def policy_notes(info: S.UserPolicyInfo, attrs: dict[int, bytes], templates: tuple[S.UserTmpl, ...]) -> Notes:
    """What PF_KEY cannot say about this policy."""
    out: list[tuple[str, str]] = []
    _common(attrs, out)
    if info.flags:
        names = [n for bit, n in ((1, "localok"), (2, "icmp")) if info.flags & bit]
        out.append(("flag", " ".join(names) or f"0x{info.flags:x}"))
    if info.sel.ifindex:
        out.append(("dev", str(info.sel.ifindex)))
    for i, t in enumerate(templates):
        if (t.aalgos, t.ealgos, t.calgos) != (0xFFFFFFFF,) * 3:
            out.append((f"tmpl{i}", f"algorithm masks auth 0x{t.aalgos:x} enc 0x{t.ealgos:x} "
                                    f"comp 0x{t.calgos:x}"))
        if t.spi:
            out.append((f"tmpl{i}", f"spi 0x{t.spi:08x}"))
    return Notes(tuple(out))
