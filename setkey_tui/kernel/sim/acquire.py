"""SADB_ACQUIRE: the kernel asks the key managers for an SA a packet needs (and hears their refusals)."""

from __future__ import annotations

from setkey_tui.kernel.sim.records import Addr, PolicyRecord, Template
from setkey_tui.kernel.sim.sad import SAD
from setkey_tui.kernel.sim.sockets import Delivery, Sockets, Target
from setkey_tui.pfkey.constants import (
    IPPROTO_AH,
    IPPROTO_ESP,
    IPSEC_REPLAYWSIZE,
    Direction,
    ExtType,
    MsgType,
    PolicyType,
)
from setkey_tui.pfkey.extensions import AddressExt, Alg, Comb, Extension, PolicyExt, ProposalExt
from setkey_tui.pfkey.message import Message

ACQ_EXPIRES = 30  # net.core.xfrm_acq_expires
# Proposal lifetimes Linux puts in every sadb_comb of an ACQUIRE.
COMB_TIMES = {"hard_addtime": 86400, "soft_addtime": 72000, "hard_usetime": 28800, "soft_usetime": 25200}


class Acquirer:
    """Creates the larval SA of a missing SA and sends SADB_ACQUIRE to the registered sockets."""

    def __init__(
        self,
        sad: SAD,
        sockets: Sockets,
        *,
        supported_auth: tuple[Alg, ...],
        supported_encrypt: tuple[Alg, ...],
    ) -> None:
        self.sad = sad
        self.sockets = sockets
        self.supported_auth = supported_auth
        self.supported_encrypt = supported_encrypt
        self._acqseq = 0

    def acquire(
        self, pol: PolicyRecord, tmpl: Template, src: Addr, dst: Addr, t: int, flow: tuple[Addr, int]
    ) -> tuple[bool, list[Delivery]]:
        """Create the larval SA and raise SADB_ACQUIRE, unless one is already pending.

        ``flow`` is the packet's source and protocol: the larval SA's selector (xfrm_init_tempstate).
        """
        if self.sad.find_acq(tmpl.mode, tmpl.reqid, tmpl.proto, dst, src) is not None:
            return False, []
        rec = self.sad.new_larval(tmpl.proto, src, dst, tmpl.mode, tmpl.reqid, t)
        rec.sel, rec.sel_proto = flow
        self._acqseq = (self._acqseq + 1) & 0xFFFFFFFF or 1
        rec.acq_seq = self._acqseq
        self.sad.insert(rec)
        exts: list[Extension] = [
            AddressExt(ExtType.ADDRESS_SRC, src.sockaddr(), 0, src.full_prefix),
            AddressExt(ExtType.ADDRESS_DST, dst.sockaddr(), 0, dst.full_prefix),
            PolicyExt(PolicyType.IPSEC, Direction.OUTBOUND, pol.index, pol.priority),
        ]
        if tmpl.proto in (IPPROTO_AH, IPPROTO_ESP):  # IPComp gets no proposal
            exts.append(ProposalExt(IPSEC_REPLAYWSIZE, self.combs(tmpl.proto)))
        msg = Message(MsgType.ACQUIRE, rec.satype, rec.acq_seq, 0, 0, tuple(exts))
        return True, self.sockets.send(msg, Target.REGISTERED)

    def combs(self, proto: int) -> tuple[Comb, ...]:
        """The proposal's combinations: every supported algorithm (pair, for ESP)."""
        if proto == IPPROTO_AH:
            return tuple(
                Comb(auth=a.id, auth_minbits=a.minbits, auth_maxbits=a.maxbits, **COMB_TIMES)
                for a in self.supported_auth
            )
        if proto == IPPROTO_ESP:
            return tuple(
                Comb(
                    auth=a.id,
                    encrypt=e.id,
                    auth_minbits=a.minbits,
                    auth_maxbits=a.maxbits,
                    encrypt_minbits=e.minbits,
                    encrypt_maxbits=e.maxbits,
                    **COMB_TIMES,
                )
                for e in self.supported_encrypt
                for a in self.supported_auth[1:]
            )
        return ()

    def reply(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        """A key manager's negative answer to an ACQUIRE: the larval SA goes away; nothing is sent."""
        if msg.extensions or not msg.errno:
            return []
        said = self.sad.find_acq_by_seq(msg.seq)
        if said is not None:
            self.sad.remove(said)
        return []
