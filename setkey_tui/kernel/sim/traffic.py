"""One simulated outbound packet through the SPD: its policy, the SAs it uses, the ACQUIREs it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from setkey_tui.kernel.sim.acquire import Acquirer
from setkey_tui.kernel.sim.records import AF_INET6, Addr
from setkey_tui.kernel.sim.sad import SAD
from setkey_tui.kernel.sim.sockets import Delivery
from setkey_tui.kernel.sim.spd import SPD
from setkey_tui.packet import Packet, PacketVerdict, Verdict
from setkey_tui.pfkey.constants import Direction, Mode, PolicyType
from setkey_tui.pfkey.platform import AF_INET


@dataclass(frozen=True, slots=True)
class TrafficResult(PacketVerdict):
    """What happened to one simulated packet: its verdict and the kernel's messages it caused."""

    deliveries: list[Delivery] = field(default_factory=list)

    def without_deliveries(self) -> PacketVerdict:
        """The verdict alone: what a transport answers (the messages go to the sockets)."""
        return PacketVerdict(self.verdict, self.policy_id, self.sa_spis, self.acquires)


def packet_flow(packet: Packet) -> tuple[Addr, Addr, int, int, int]:
    """A packet's flow as the SPD matches it: source, destination, protocol, ports."""
    fam = AF_INET if packet.src.version == 4 else AF_INET6
    return Addr(fam, packet.src.packed), Addr(fam, packet.dst.packed), packet.proto, packet.sport, packet.dport


def send_packet(
    sad: SAD, spd: SPD, acquirer: Acquirer, flow: tuple[Addr, Addr, int, int, int], size: int, t: int
) -> TrafficResult:
    """The fate at time ``t`` of a packet of ``flow`` (source, destination, protocol, ports) and ``size``."""
    s_addr, d_addr, proto, sport, dport = flow
    pol = spd.match(Direction.OUTBOUND, s_addr, d_addr, proto, sport, dport)
    if pol is None:
        return TrafficResult(Verdict.NO_POLICY)
    spd.use(pol, t)
    if pol.policy_type == PolicyType.DISCARD:
        return TrafficResult(Verdict.DISCARD, pol.index)
    if not pol.templates:
        return TrafficResult(Verdict.BYPASS, pol.index)
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
    verdict = Verdict.EXPIRED if expired else Verdict.ACQUIRE if blocked else Verdict.PROTECTED
    return TrafficResult(verdict, pol.index, tuple(spis), acquires, out)
