"""setkey's ``postproc``: what one kernel reply prints in -D/-DP/-F/get/spddump mode (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from setkey_tui.pfkey.constants import MsgType, SAState
from setkey_tui.pfkey.extensions import SAExt
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.render.errors import strerror_setkey
from setkey_tui.render.sadump import format_sa
from setkey_tui.render.short import format_short
from setkey_tui.render.spdump import format_sp


@dataclass(frozen=True)
class DumpOptions:
    """The -D flags that shape the output: ``-a`` (all_), ``-p`` (withports), ``-l`` (short)."""

    all_: bool = False
    withports: bool = False
    short: bool = False


def postproc(msg: Message, *, now: int, options: DumpOptions = DumpOptions(), prefix: str = "",
             platform: Platform = LINUX) -> tuple[str, bool]:
    """The text setkey prints for ``msg`` and whether the reply was an error (which ends the exchange).

    ``prefix`` goes before an error message (``The result of line N: `` in script mode).
    """
    if msg.errno:
        return f"{prefix}{strerror_setkey(msg.errno, msg.type, platform=platform)}.\n", True
    if msg.type == MsgType.GET:
        return format_sa(msg, now=now, withports=options.withports, platform=platform), False
    if msg.type == MsgType.DUMP:
        sa = msg.get(1)
        if not options.all_ and isinstance(sa, SAExt) and sa.state == SAState.DEAD:
            return "", False
        if options.short:
            return format_short(msg, now=now), False
        return format_sa(msg, now=now, withports=options.withports, platform=platform), False
    if msg.type in (MsgType.X_SPDGET, MsgType.X_SPDDUMP):
        return format_sp(msg, now=now, withports=options.withports, platform=platform), False
    return "", False
