"""Kernel requests the TUI makes from table rows, and the export of rows as a setkey script."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable

from setkey_tui.files import write_private
from setkey_tui.lang.compile import fwd_copy
from setkey_tui.mirror import SARow, SPRow
from setkey_tui.pfkey.constants import Direction, ExtType, MsgType
from setkey_tui.pfkey.extensions import AddressExt, Extension, PolicyExt, SAExt
from setkey_tui.pfkey.message import Message, header_only
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.render.export import ExportError, sa_to_statement, sp_to_statement


def delete_sa_message(row: SARow) -> Message:
    """SADB_DELETE for the SA of ``row`` (SA + source + destination, as setkey's ``delete`` sends)."""
    exts: list[Extension] = [SAExt(spi=row.spi)]
    for ext_type in (ExtType.ADDRESS_SRC, ExtType.ADDRESS_DST):
        ext = row.msg.get(ext_type)
        if isinstance(ext, AddressExt):
            exts.append(ext._replace(trailer=b""))
    return Message(MsgType.DELETE, row.satype, extensions=tuple(exts))


def delete_sp_message(row: SPRow) -> Message:
    """SADB_X_SPDDELETE for the policy of ``row`` (its selector and direction)."""
    exts: list[Extension] = []
    for ext_type in (ExtType.ADDRESS_SRC, ExtType.ADDRESS_DST):
        ext = row.msg.get(ext_type)
        if isinstance(ext, AddressExt):
            exts.append(ext._replace(trailer=b""))
    pol = row.msg.get(ExtType.X_POLICY)
    if isinstance(pol, PolicyExt):
        exts.append(PolicyExt(pol.policy_type, pol.dir))
    return Message(MsgType.X_SPDDELETE, 0, extensions=tuple(exts))


def delete_statement(row: SARow | SPRow) -> str:
    """The setkey statement saying what :func:`delete_sa_message`/:func:`delete_sp_message` send for ``row``
    (what a delete confirmation shows)."""
    if isinstance(row, SARow):
        return f"delete {row.src} {row.dst} {row.proto} 0x{row.spi:x} ;"
    text = f"spddelete {row.src} {row.dst} {row.upper_name} -P {row.dir_name} ;"
    if row.dir_name == "in":
        text += "  # this policy only: its fwd copy stays (as setkey -k)"
    return text


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


def _fwd_twin(row: SPRow) -> SPRow | None:
    """The ``-P fwd`` policy setkey adds on Linux beside the inbound policy ``row`` (None for other rows)."""
    pol = row.msg.get(ExtType.X_POLICY)
    if not isinstance(pol, PolicyExt):
        return None
    twin = fwd_copy(pol, LINUX, kernel_mode=False)
    return None if twin is None else SPRow(row.msg.with_ext(twin))


def automatic_fwd(sps: Iterable[SPRow]) -> set[tuple[int, ...]]:
    """Keys of the ``fwd`` policies that are the copies setkey makes of an ``in`` policy (same selector,
    action, priority and requests, a first ``unique`` level made ``require``): applying the ``in`` policy
    recreates them, so an export leaves them out."""
    rows = list(sps)
    twins = {}
    for row in rows:
        twin = _fwd_twin(row)
        if twin is not None:
            twins[twin.key] = (twin.action, twin.priority, twin.requests)
    return {r.key for r in rows if r.dir == Direction.FWD and twins.get(r.key) == (r.action, r.priority, r.requests)}


def export_text(sas: Iterable[SARow], sps: Iterable[SPRow], *, with_keys: bool) -> str:
    """A setkey script (``setkey -f``) recreating the given SAs and policies: applied to an empty kernel it
    makes exactly this state (the automatic ``fwd`` copies come back with their ``in`` policies)."""
    lines = ["#!/usr/sbin/setkey -f", "# exported by setkey-tui"]
    sa_list = list(sas)
    sp_list = sorted(sps, key=lambda r: r.spid)  # in the order they were made: it decides ties in matching
    twins = automatic_fwd(sp_list)
    if sa_list:
        lines.append(f"# {len(sa_list)} SAs" + (" with their keys (secret!)" if with_keys
                                                 else " (keys left out: add them before use)"))
        lines.extend(statement_of(r, with_keys=with_keys).rstrip("\n") for r in sa_list)
    if sp_list:
        kept = len(sp_list) - len(twins)
        lines.append(f"# {kept} polic{'y' if kept == 1 else 'ies'}"
                     + (f" ({len(twins)} fwd cop{'y' if len(twins) == 1 else 'ies'} left out: setkey adds them "
                        "with their -P in policies)"
                        if twins else ""))
        lines.extend(statement_of(r, with_keys=False).rstrip("\n") for r in sp_list if r.key not in twins)
    return "\n".join(lines) + "\n"


def copy_file_path() -> str:
    """Where a copied statement is also written (readable by the owner only): the runtime or temp folder."""
    folder = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return os.path.join(folder, f"setkey-tui-{os.getuid()}-copied.txt")


def copy_text(copy_to_clipboard: Callable[[str], None], text: str) -> str:
    """Hand ``text`` to the terminal's clipboard (OSC 52) and write it to :func:`copy_file_path`; the sentence
    that tells the user honestly where it went (a terminal may ignore OSC 52 without telling anyone)."""
    copy_to_clipboard(text)
    path = copy_file_path()
    try:
        write_private(path, text + "\n")
        saved = f" It is also in {path}."
    except OSError as exc:
        saved = f" (Could not also write {path}: {exc.strerror or exc}.)"
    if os.environ.get("TMUX"):
        how = "Sent to the clipboard through tmux, which passes it on only with `set -g set-clipboard on`."
    else:
        how = "Sent to the terminal's clipboard (OSC 52); some terminals ignore it without a word."
    return how + saved
