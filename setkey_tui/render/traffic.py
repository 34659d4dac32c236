"""A traced packet in plain words, the same for ``setkey-tui traffic`` and the TUI's traffic dialog."""

from __future__ import annotations

from setkey_tui.packet import IPPROTO_ANY, UPPER_PROTOCOLS, TraceResult, Verdict
from setkey_tui.pfkey.constants import DIRECTIONS, POLICY_TYPES, ExtType, SAType
from setkey_tui.pfkey.extensions import AddressExt, LifetimeExt, PolicyExt, SAExt
from setkey_tui.pfkey.message import Message

VERDICT_WORDS: dict[Verdict, str] = {
    Verdict.NO_POLICY: "no policy matched: sent in the clear",
    Verdict.BYPASS: "the policy lets it pass without IPsec: sent in the clear",
    Verdict.DISCARD: "the policy discards it: dropped",
    Verdict.PROTECTED: "protected",
    Verdict.ACQUIRE: "no SA: the kernel raised ACQUIRE for a key manager; the packet is dropped",
    Verdict.EXPIRED: "its SA reached a hard lifetime: the kernel expired it (dropped)",
}
PENDING_WORDS = "no SA: an ACQUIRE is already pending (larval SA), none raised again; the packet is dropped"
_PROTOCOL_NAMES = {num: name for name, num in UPPER_PROTOCOLS.items()}


def _where(ext: object) -> str:
    if not isinstance(ext, AddressExt):
        return "?"
    ip = ext.sockaddr.ip
    full = 32 if ip.version == 4 else 128
    text = str(ip) if ext.prefixlen == full else f"{ip}/{ext.prefixlen}"
    return f"{text}[{ext.sockaddr.port or 'any'}]"


def describe_policy(msg: Message) -> str:
    """A policy in a few words: ``policy 9 (out ipsec): 10.1.0.0/16[any] -> 10.2.0.0/16[any] any``."""
    pol = msg.get(ExtType.X_POLICY)
    src, dst = msg.get(ExtType.ADDRESS_SRC), msg.get(ExtType.ADDRESS_DST)
    upper = src.proto if isinstance(src, AddressExt) else IPPROTO_ANY
    if not isinstance(pol, PolicyExt):
        return "a policy"
    direction = DIRECTIONS.name(pol.dir)
    action = POLICY_TYPES.name(pol.policy_type)
    upper_name = "any" if upper == 0 else _PROTOCOL_NAMES.get(upper, str(upper))
    return f"policy {pol.id} ({direction} {action}): {_where(src)} -> {_where(dst)} {upper_name}"


def describe_sa(msg: Message) -> str:
    """An SA and its byte count: ``esp SA 0x00001001 10.0.0.1 -> 10.0.0.2, now 128 bytes (2 packets)``."""
    sa, cur = msg.get(ExtType.SA), msg.get(ExtType.LIFETIME_CURRENT)
    src, dst = msg.get(ExtType.ADDRESS_SRC), msg.get(ExtType.ADDRESS_DST)
    try:
        proto = SAType(msg.satype).name.lower()
    except ValueError:
        proto = f"satype {msg.satype}"
    spi = f"0x{sa.spi:08x}" if isinstance(sa, SAExt) else "?"
    ends = " -> ".join(str(a.sockaddr.ip) if isinstance(a, AddressExt) else "?" for a in (src, dst))
    used = ""
    if isinstance(cur, LifetimeExt):
        used = f", now {cur.byte_count} bytes ({cur.allocations} packet{'' if cur.allocations == 1 else 's'})"
    return f"{proto} SA {spi} {ends}{used}"


def describe_traffic(result: TraceResult) -> str:
    """One traced packet in plain words: which policy matched, which SAs carried it and their byte counts, or
    why it went in the clear / was dropped / raised ACQUIRE."""
    v = result.verdict
    words = VERDICT_WORDS[v.verdict]
    if v.verdict == Verdict.NO_POLICY:
        return words
    head = describe_policy(result.policy) if result.policy is not None else f"policy {v.policy_id}"
    carried = "; ".join(describe_sa(m) for m in result.carriers)
    if v.verdict == Verdict.PROTECTED:
        spis = ", ".join(f"0x{s:08x}" for s in v.sa_spis)
        return f"{head} matched: carried by {carried or 'SA ' + spis}"
    if v.verdict == Verdict.ACQUIRE:
        if not v.acquires:
            words = PENDING_WORDS
        if carried:
            words += f"; also used: {carried}"
    return f"{head} matched: {words}"
