"""Kernel requests the TUI makes from table rows, and the export of rows as a setkey script."""

from __future__ import annotations

import os
from collections.abc import Iterable

from setkey_tui.mirror import SARow, SPRow
from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import AddressExt, PolicyExt, SAExt
from setkey_tui.pfkey.message import Message, header_only
from setkey_tui.render.script import ExportError, sa_to_statement, sp_to_statement


def delete_sa_message(row: SARow) -> Message:
    """SADB_DELETE for the SA of ``row`` (SA + source + destination, as setkey's ``delete`` sends)."""
    exts: list = [SAExt(spi=row.spi)]
    for t in (ExtType.ADDRESS_SRC, ExtType.ADDRESS_DST):
        ext = row.msg.get(t)
        if isinstance(ext, AddressExt):
            exts.append(ext._replace(trailer=b""))
    return Message(MsgType.DELETE, row.satype, extensions=tuple(exts))


def delete_sp_message(row: SPRow) -> Message:
    """SADB_X_SPDDELETE for the policy of ``row`` (its selector and direction)."""
    exts: list = []
    for t in (ExtType.ADDRESS_SRC, ExtType.ADDRESS_DST):
        ext = row.msg.get(t)
        if isinstance(ext, AddressExt):
            exts.append(ext._replace(trailer=b""))
    pol = row.msg.get(ExtType.X_POLICY)
    if isinstance(pol, PolicyExt):
        exts.append(PolicyExt(pol.policy_type, pol.dir))
    return Message(MsgType.X_SPDDELETE, 0, extensions=tuple(exts))


def flush_sad_message(satype: int) -> Message:
    """SADB_FLUSH of one protocol (0: every SA)."""
    return header_only(MsgType.FLUSH, satype)


def flush_spd_message() -> Message:
    """SADB_X_SPDFLUSH."""
    return header_only(MsgType.X_SPDFLUSH)


def statement_of(row: SARow | SPRow, *, with_keys: bool) -> str:
    """The setkey statement that recreates ``row``; a ``#`` comment saying why when the language cannot
    express it (an algorithm without a setkey name, a policy direction other than in/out/fwd …)."""
    try:
        if isinstance(row, SARow):
            return sa_to_statement(row.msg, with_keys=with_keys)
        return sp_to_statement(row.msg)
    except ExportError as exc:
        return f"# no setkey statement can recreate this entry: {exc}\n"


def export_text(sas: Iterable[SARow], sps: Iterable[SPRow], *, with_keys: bool) -> str:
    """A setkey script (``setkey -f``) recreating the given SAs and policies."""
    lines = ["#!/usr/sbin/setkey -f", "# exported by setkey-tui"]
    sa_list = list(sas)
    sp_list = list(sps)
    if sa_list:
        lines.append(f"# {len(sa_list)} SAs" + ("" if with_keys else " (keys left out: add them before use)"))
        lines.extend(statement_of(r, with_keys=with_keys).rstrip("\n") for r in sa_list)
    if sp_list:
        lines.append(f"# {len(sp_list)} policies")
        lines.extend(statement_of(r, with_keys=False).rstrip("\n") for r in sp_list)
    return "\n".join(lines) + "\n"


def write_private(path: str, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (mode 0600, also when the file existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            f.write(text)
    finally:
        if fd >= 0:
            os.close(fd)
