"""libipsec's ``ipsec_dump_policy``: a ``sadb_x_policy`` as policy text (``out prio def ipsec`` + requests)."""

from __future__ import annotations

from setkey_tui.pfkey.constants import IPSEC_MANUAL_REQID_MAX, PRIORITY_DEFAULT, PRIORITY_HIGH, PRIORITY_LOW
from setkey_tui.pfkey.extensions import IpsecRequest, PolicyExt, Sockaddr
from setkey_tui.pfkey.platform import FREEBSD, LINUX, Platform
from setkey_tui.render.names import (
    LEVEL_NAMES,
    MODE_NAMES,
    POLICY_DIR_NAMES,
    POLICY_DIR_NAMES_BSD,
    POLICY_TYPE_NAMES,
    REQUEST_PROTO_NAMES,
    REQUEST_PROTO_NAMES_FREEBSD,
    addr_text,
)


class PolicyTextError(ValueError):
    """The policy cannot be shown as text; ``str()`` is libipsec's ipsec_strerror wording."""


def priority_text(priority: int) -> str:
    """``prio def + 5`` style text for a Linux policy priority ('' for priority 0)."""
    if priority == 0:
        return ""
    if priority < (PRIORITY_DEFAULT // 4) * 3:
        word, base = "high", PRIORITY_HIGH
    elif priority < (PRIORITY_DEFAULT // 4) * 5:
        word, base = "def", PRIORITY_DEFAULT
    else:
        word, base = "low", PRIORITY_LOW
    offset = priority - base
    if offset == 0:
        return f"prio {word}"
    sign = "+" if offset < 0 else "-"
    return f"prio {word} {sign} {abs(offset)}"


def _endpoint(sa: Sockaddr, withports: bool) -> str:
    return f"{addr_text(sa)}[{sa.port}]" if withports else addr_text(sa)


def request_text(req: IpsecRequest, *, withports: bool = False, platform: Platform = LINUX) -> str:
    """One request as ``proto/mode/src-dst/level[:reqid|#reqid]``; PolicyTextError when invalid."""
    protos = REQUEST_PROTO_NAMES_FREEBSD if platform is FREEBSD else REQUEST_PROTO_NAMES
    proto = protos.get(req.proto)
    if proto is None:
        raise PolicyTextError("Invalid ipsec protocol")
    if not 0 <= req.mode < len(MODE_NAMES):
        raise PolicyTextError("Invalid ipsec mode")
    if not 0 <= req.level < len(LEVEL_NAMES):
        raise PolicyTextError("Invalid ipsec level")
    addrs = ""
    if req.src is not None and req.dst is not None:
        addrs = f"{_endpoint(req.src, withports)}-{_endpoint(req.dst, withports)}"
    text = f"{proto}/{MODE_NAMES[req.mode]}/{addrs}/{LEVEL_NAMES[req.level]}"
    if req.reqid:
        text += f"{'#' if req.reqid > IPSEC_MANUAL_REQID_MAX else ':'}{req.reqid}"
    return text


def dump_policy(pol: PolicyExt, delimiter: str = " ", *, withports: bool = False,
                platform: Platform = LINUX) -> str:
    """The policy text; requests are joined with ``delimiter``. PolicyTextError for invalid values."""
    dirs = POLICY_DIR_NAMES if platform is LINUX else POLICY_DIR_NAMES_BSD
    direction = dirs.get(pol.dir)
    if direction is None:
        raise PolicyTextError("Invalid direction")
    if not 0 <= pol.policy_type < len(POLICY_TYPE_NAMES):
        raise PolicyTextError("Invalid security policy")
    ptype = POLICY_TYPE_NAMES[pol.policy_type]
    prio = priority_text(pol.priority) if platform.policy_priority else ""
    head = f"{direction} {prio} {ptype}" if prio else f"{direction} {ptype}"
    if pol.policy_type != 2:
        return head
    parts = [head]
    parts.extend(request_text(r, withports=withports, platform=platform) for r in pol.requests)
    return delimiter.join(parts)
