"""Detail of one SA or policy: every field, its setkey statement, ``setkey -D``/``-DP`` text, the ``-x``
decoding and hex dump of its message, and the linked entries. Keys are masked until revealed (``k``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from setkey_tui.mirror import SARow, SPRow
from setkey_tui.model import Endpoint, Lifetime, ModelError, SecurityAssociation, SecurityPolicy
from setkey_tui.pfkey.constants import (
    AUTH_ALGS,
    COMP_ALGS,
    DIRECTIONS,
    ENC_ALGS,
    MODES,
    POLICY_TYPES,
    SA_STATES,
    SA_TYPES,
    SAType,
)
from setkey_tui.render.hexdump import hexdump
from setkey_tui.render.kdebug import kdebug
from setkey_tui.render.policy import priority_text
from setkey_tui.render.sadump import format_sa
from setkey_tui.render.spdump import format_sp
from setkey_tui.tui.cells import duration
from setkey_tui.tui.masking import DOT, key_byte_ranges, mask_hex_text, mask_hexdump, message_keys
from setkey_tui.tui.ops import statement_of
from setkey_tui.tui.screens.main import EssentialsFooter

if TYPE_CHECKING:
    from setkey_tui.tui.app import SetkeyApp


def local_time(t: int, now: float) -> str:
    """``2023-11-14 22:13:20 (5m07s ago)`` in the local time zone; ``never`` for 0."""
    if not t:
        return "never"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
    delta = now - t
    return f"{stamp} ({duration(delta)} ago)" if delta >= 0 else f"{stamp} (in {duration(-delta)})"


def limit_text(limit: Lifetime | None, current: Lifetime, now: float) -> str:
    """A soft or hard limit as ``ip xfrm state`` users read it: when it falls and how much is left."""
    if limit is None or not (limit.addtime or limit.usetime or limit.bytes or limit.allocations):
        return "none"
    parts = []
    if limit.addtime:
        at = current.addtime + limit.addtime
        left = at - now
        when = time.strftime("%H:%M:%S", time.localtime(at)) if current.addtime else "?"
        parts.append(f"{duration(limit.addtime)} after it was added: at {when} "
                     f"({'in ' + duration(left) if left > 0 else 'reached'})")
    if limit.usetime:
        if current.usetime:
            left = current.usetime + limit.usetime - now
            parts.append(f"{duration(limit.usetime)} after first use ({'in ' + duration(left) if left > 0 else 'reached'})")
        else:
            parts.append(f"{duration(limit.usetime)} after first use (not used yet)")
    if limit.bytes:
        left = max(0, limit.bytes - current.bytes)
        parts.append(f"{limit.bytes} bytes ({left} left)")
    if limit.allocations:
        left = max(0, limit.allocations - current.allocations)
        parts.append(f"{limit.allocations} packets ({left} left)")
    return "; ".join(parts)


def _key_text(alg: str, key: bytes | None, reveal: bool) -> str:
    if not key:
        return alg
    if reveal:
        return f"{alg}, key 0x{key.hex()}"
    return f"{alg}, {len(key) * 8}-bit key {DOT * 8} (k reveals)"


def _endpoint(e: Endpoint, *, prefix: bool = False) -> str:
    text = str(e.address)
    if prefix:
        text += f"/{e.prefixlen}"
    return text + (f"[{e.port}]" if e.port else "")


def sa_fields(row: SARow, sa: SecurityAssociation, now: float, reveal: bool) -> list[tuple[str, str]]:
    """The SA's fields, named and written as an administrator reads them."""
    lines = [
        ("protocol", SA_TYPES.name(sa.satype)),
        ("source", _endpoint(sa.src)),
        ("destination", _endpoint(sa.dst)),
        ("SPI", f"0x{sa.spi:08x} ({sa.spi})"),
        ("mode", MODES.name(sa.mode)),
        ("reqid", str(sa.reqid) if sa.reqid else "0 (none)"),
        ("state", SA_STATES.name(sa.state)),
    ]
    if sa.satype == SAType.IPCOMP:
        lines.append(("compression", COMP_ALGS.name(sa.encrypt)))
    else:
        if sa.satype == SAType.ESP:
            lines.append(("encryption", _key_text(row.enc_name or ENC_ALGS.name(sa.encrypt), sa.enc_key, reveal)))
        lines.append(("authentication", _key_text(AUTH_ALGS.name(sa.auth) if sa.auth else "none", sa.auth_key,
                                                  reveal)))
    lines.append(("replay window", f"{sa.replay} packets" if sa.replay else "0 (no replay check)"))
    if sa.flags:
        lines.append(("flags", f"0x{sa.flags:x}"))
    if sa.natt_type:
        lines.append(("NAT traversal", f"UDP encapsulation, ports {sa.natt_sport} → {sa.natt_dport}"))
    cur = sa.current
    lines += [
        ("added", local_time(cur.addtime, now)),
        ("first used", local_time(cur.usetime, now)),
        ("traffic", f"{cur.bytes} bytes, {cur.allocations} packets"),
        ("soft limit", limit_text(sa.soft, cur, now)),
        ("hard limit", limit_text(sa.hard, cur, now)),
    ]
    return lines


def sp_fields(row: SPRow, sp: SecurityPolicy, now: float) -> list[tuple[str, str]]:
    """The policy's fields, written as setkey writes them."""
    lines = [
        ("traffic", f"{row.src} → {row.dst} {row.upper_name}"),
        ("direction", DIRECTIONS.name(sp.direction)),
        ("action", POLICY_TYPES.name(sp.action)),
        ("priority", f"{priority_text(sp.priority) or 'none'} ({sp.priority})"),
    ]
    requests = row.requests.split()
    for n, req in enumerate(requests, 1):
        lines.append((f"request {n}" if len(requests) > 1 else "request", req))
    lines.append(("policy id", str(sp.spid)))
    if sp.current is not None:
        lines += [("added", local_time(sp.current.addtime, now)),
                  ("last used", local_time(sp.current.usetime, now))]
        for name, limit in (("soft limit", sp.soft), ("hard limit", sp.hard)):
            if limit is not None and (limit.addtime or limit.usetime or limit.bytes or limit.allocations):
                lines.append((name, limit_text(limit, sp.current, now)))
    return lines


def field_lines(row: SARow | SPRow, *, reveal: bool, now: float, notes: list[str] | None = None) -> str:
    """``name  value`` for every field of the entry (keys masked unless ``reveal``), then ``notes``: what the
    kernel holds that PF_KEY cannot say (XFRM: AEAD, ESN, marks …)."""
    try:
        if isinstance(row, SARow):
            pairs = sa_fields(row, row.model, now, reveal)
        else:
            pairs = sp_fields(row, row.model, now)
    except ModelError as exc:
        return f"(this message does not describe a whole entry: {exc})"
    pairs += [("xfrm", line.removeprefix("xfrm: ")) for line in notes or ()]
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in pairs)


def _title(row: SARow | SPRow) -> str:
    if isinstance(row, SARow):
        return f"SA {row.proto} {row.src} → {row.dst}  spi 0x{row.spi:08x}  ({row.state_name})"
    return f"Policy {row.src} → {row.dst} {row.upper_name} -P {row.dir_name} {row.action_name}  (spid {row.spid})"


class DetailScreen(Screen[None]):
    """Everything about one entry."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding("k", "reveal", "Reveal/mask keys"),
        Binding("y", "copy", "Copy statement"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self, row: SARow | SPRow) -> None:
        super().__init__()
        self.row = row
        self.revealed = False
        self.gone = False  # the kernel no longer has the entry (deleted, expired, flushed)
        self._linked: list[SARow | SPRow] = []

    @property
    def setkey_app(self) -> SetkeyApp:
        """The app (typed)."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-body"):
            yield Label(_title(self.row), classes="detail-title", markup=False)
            yield Label("Fields", classes="detail-heading")
            yield Static("", id="detail-fields", markup=False, classes="detail-block")
            yield Label("setkey statement", classes="detail-heading")
            yield Static("", id="detail-statement", markup=False, classes="detail-block")
            yield Label("setkey -D" if isinstance(self.row, SARow) else "setkey -DP", classes="detail-heading")
            yield Static("", id="detail-dump", markup=False, classes="detail-block")
            yield Label("Linked entries", classes="detail-heading")
            yield OptionList(id="detail-linked")
            yield Label("Raw message: setkey -x decoding", classes="detail-heading")
            yield Static("", id="detail-kdebug", markup=False, classes="detail-block")
            yield Label("Raw message: hex (-h)", classes="detail-heading")
            yield Static("", id="detail-hex", markup=False, classes="detail-block")
        yield EssentialsFooter()

    def on_mount(self) -> None:
        """Fill every section."""
        self._linked = self._find_linked()
        options = self.query_one("#detail-linked", OptionList)
        if self._linked:
            options.add_options([Option(Text(_title(r)), id=str(i)) for i, r in enumerate(self._linked)])
        else:
            options.add_option(Option("none", disabled=True))
        self.refresh_texts()
        self.set_interval(1.0, self.follow)

    def follow(self) -> None:
        """Keep up with the kernel: show the entry's latest state (byte counts, dying …), or say it is gone."""
        mirror = self.setkey_app.mirror
        rows = mirror.sad.rows if isinstance(self.row, SARow) else mirror.spd.rows
        current = rows.get(self.row.key)
        if current is None:
            if not self.gone:
                self.gone = True
                self.query_one(".detail-title", Label).update(_title(self.row) + "  [gone from the kernel]")
                self.refresh_bindings()
            return
        if self.gone or current is not self.row:
            self.query_one(".detail-title", Label).update(_title(current))
        if self.gone:
            self.gone = False
            self.refresh_bindings()
        self.row = current
        self.refresh_texts()

    def _find_linked(self) -> list[SARow | SPRow]:
        mirror = self.setkey_app.mirror
        if isinstance(self.row, SARow):
            return list(mirror.policies_for_sa(self.row))
        return list(mirror.sas_for_policy(self.row))

    def raw_bytes(self) -> bytes:
        """The entry's message as the kernel sent it (the codec re-encodes byte for byte)."""
        return self.row.msg.encode(self.setkey_app.platform)

    def refresh_texts(self) -> None:
        """Render the sections (masked or not)."""
        app = self.setkey_app
        platform = app.platform
        row = self.row
        keys = [] if self.revealed else message_keys(row.msg)
        now = int(app.now())
        if isinstance(row, SARow):
            dump = format_sa(row.msg, now=now, platform=platform)
        else:
            dump = format_sp(row.msg, now=now, platform=platform)
        raw = self.raw_bytes()
        decoding = kdebug(raw, platform)
        hexed = hexdump(raw)
        if not self.revealed:
            dump = mask_hex_text(dump, keys)
            decoding = mask_hex_text(decoding, keys)
            hexed = mask_hexdump(hexed, key_byte_ranges(raw, platform))
        notes = app.link.notes_for(row.msg)
        self.query_one("#detail-fields", Static).update(field_lines(row, reveal=self.revealed, now=app.now(),
                                                                    notes=notes))
        self.query_one("#detail-statement", Static).update(self.statement())
        self.query_one("#detail-dump", Static).update(dump.rstrip("\n"))
        self.query_one("#detail-kdebug", Static).update(decoding.rstrip("\n"))
        self.query_one("#detail-hex", Static).update(hexed.rstrip("\n"))

    def statement(self) -> str:
        """The statement recreating this entry (keys only when revealed)."""
        return statement_of(self.row, with_keys=self.revealed).strip()

    def action_reveal(self) -> None:
        """Show or hide the keys of this entry."""
        self.revealed = not self.revealed
        self.refresh_texts()
        self.notify("Keys revealed for this entry." if self.revealed else "Keys masked.")

    def action_copy(self) -> None:
        """Copy the statement."""
        from setkey_tui.tui.ops import copy_text

        text = self.statement()
        where = copy_text(self.app.copy_to_clipboard, text)
        self.notify(f"{text}\n{where}", title="Copy", markup=False, timeout=8)

    def action_back(self) -> None:
        """Close."""
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No delete for an entry the kernel no longer has (it is not offered in the footer either)."""
        if action == "delete" and self.gone:
            return False
        return True

    def action_delete(self) -> None:
        """Delete this entry (after confirmation), then close."""
        from setkey_tui.tui.ops import delete_sa_message, delete_sp_message, delete_statement
        from setkey_tui.tui.screens.dialogs import ConfirmScreen

        row = self.row
        msg = delete_sa_message(row) if isinstance(row, SARow) else delete_sp_message(row)

        def answer(yes: bool | None) -> None:
            if yes:
                self.setkey_app._send_worker([msg], "Deleted.")
                self.dismiss(None)

        what = "SA" if isinstance(row, SARow) else "policy"
        self.app.push_screen(ConfirmScreen(f"Delete this {what}? This is sent:", delete_statement(row)), answer)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Open a linked entry."""
        if event.option.id is not None:
            self.app.push_screen(DetailScreen(self._linked[int(event.option.id)]))
