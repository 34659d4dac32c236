"""Which SAs can serve which policy: the SAD↔SPD links the detail screen lists.

As the kernel picks an SA for a policy's request: same IPsec protocol, the request's reqid when it names one,
and then the request's tunnel endpoints (tunnel mode) or else the policy's selector ranges holding the SA's
addresses.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from setkey_tui.pfkey.constants import SATYPE_TO_PROTO
from setkey_tui.pfkey.extensions import IpsecRequest

if TYPE_CHECKING:
    from setkey_tui.mirror import SARow, SPRow

__all__ = ["request_matches"]


def _inside(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
            net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return ip is not None and ip.version == net.version and ip in net


def request_matches(sa: SARow, sp: SPRow, req: IpsecRequest) -> bool:
    """Whether ``sa`` can serve request ``req`` of policy ``sp``, as the kernel picks SAs: same protocol,
    same reqid when the request names one, and the request's tunnel endpoints (tunnel mode) or else the
    policy's selector ranges containing the SA's addresses."""
    if req.proto != SATYPE_TO_PROTO.get(sa.satype, -1):
        return False
    if req.reqid and sa.reqid != req.reqid:
        return False
    if req.src is not None and req.dst is not None and req.dst.addr.strip(b"\0"):
        return sa.dst_ip == req.dst.ip and sa.src_ip == req.src.ip
    return _inside(sa.src_ip, sp.src_net) and _inside(sa.dst_ip, sp.dst_net)
