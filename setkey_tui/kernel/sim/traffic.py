"""One simulated outbound packet through the SPD: its policy, the SAs it uses, the ACQUIREs it raises."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from setkey_tui.kernel.sim.acquire import Acquirer
from setkey_tui.kernel.sim.records import AF_INET6, Addr
from setkey_tui.kernel.sim.sad import SAD
from setkey_tui.kernel.sim.sockets import Delivery
from setkey_tui.kernel.sim.spd import SPD
from setkey_tui.pfkey.constants import Direction, Mode, PolicyType
from setkey_tui.pfkey.platform import AF_INET


@dataclass(frozen=True, slots=True)
class TrafficResult:
    """What happened to one simulated packet."""

    verdict: str  # "no-policy", "bypass", "discard", "protected", "acquire", "expired"
    policy_id: int | None = None
    sa_spis: tuple[int, ...] = ()
    acquires: int = 0
    deliveries: list[Delivery] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The verdict without the deliveries (what a served kernel answers a client)."""
        return {
            "verdict": self.verdict,
            "policy_id": self.policy_id,
            "sa_spis": list(self.sa_spis),
            "acquires": self.acquires,
        }


_LIMITS = (
    ("protocol", 0, 255),
    ("source port", 0, 65535),
    ("destination port", 0, 65535),
    ("packet size", 1, 65535),
)


def packet_addresses(src: str, dst: str, proto: int, sport: int, dport: int, size: int) -> tuple[Addr, Addr]:
    """A simulated packet's addresses, its numbers checked; ValueError names what is wrong."""
    for (name, low, high), value in zip(_LIMITS, (proto, sport, dport, size), strict=True):
        if not low <= value <= high:  # a served kernel gets these from any client: counters must stay sane
            raise ValueError(f"simulate_traffic: {name} {value} is out of range ({low}-{high})")
    try:
        s_ip, d_ip = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    except ValueError as exc:
        raise ValueError(f"simulate_traffic: {exc}") from None
    if s_ip.version != d_ip.version:
        raise ValueError("simulate_traffic: source and destination must be of one IP version")
    fam = AF_INET if s_ip.version == 4 else AF_INET6
    return Addr(fam, s_ip.packed), Addr(fam, d_ip.packed)


def send_packet(
    sad: SAD, spd: SPD, acquirer: Acquirer, flow: tuple[Addr, Addr, int, int, int], size: int, t: int
) -> TrafficResult:
    """The fate at time ``t`` of a packet of ``flow`` (source, destination, protocol, ports) and ``size``."""
    s_addr, d_addr, proto, sport, dport = flow
    pol = spd.match(Direction.OUTBOUND, s_addr, d_addr, proto, sport, dport)
    if pol is None:
        return TrafficResult("no-policy")
    spd.use(pol, t)
    if pol.policy_type == PolicyType.DISCARD:
        return TrafficResult("discard", pol.index)
    if not pol.templates:
        return TrafficResult("bypass", pol.index)
    out: list[Delivery] = []
    spis: list[int] = []
    acquires = 0
    blocked = expired = False
    cur_src, cur_dst = s_addr, d_addr
    for tmpl in pol.templates:
        if tmpl.mode == Mode.TUNNEL and tmpl.src is not None and tmpl.dst is not None:
            cur_src, cur_dst = tmpl.src, tmpl.dst
        found = sorted(sad.usable(tmpl, cur_src, cur_dst), key=lambda p: p[1].dying)
        if not found:
            created, sent = acquirer.acquire(pol, tmpl, cur_src, cur_dst, t, (s_addr, proto))
            acquires += created
            out += sent
            if not tmpl.optional:
                blocked = True
            continue
        said, rec = found[0]
        ok, sent = sad.use(said, rec, size, t)
        out += sent
        if ok:
            spis.append(rec.spi)
        else:
            expired = blocked = True
    verdict = "expired" if expired else "acquire" if blocked else "protected"
    return TrafficResult(verdict, pol.index, tuple(spis), acquires, out)
