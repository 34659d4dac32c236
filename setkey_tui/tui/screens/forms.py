"""Add SA and Add policy forms: live statement preview, validation by the setkey grammar on every change,
one error at the field it belongs to (shown once the field was left, or on submit), submission through the
kernel service (the form stays filled on error). Below 100 columns the form is one scrolling column."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from setkey_tui.algorithms import (
    AUTH_BY_NAME,
    AUTH_NOKEY,
    ENC_BY_NAME,
    ENC_NOKEY,
    LINUX_SUPPORTED_AUTH,
    LINUX_SUPPORTED_ENCRYPT,
    find_alg,
)
from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.errors import SetkeyParseError
from setkey_tui.lang.grammar import parse
from setkey_tui.pfkey.constants import MODES, POLICY_TYPES, SA_TYPES, Mode, PolicyType, SAType
from setkey_tui.pfkey.extensions import Alg
from setkey_tui.pfkey.message import Message
from setkey_tui.tui.formtext import (
    ACTION_WORDS,
    AUTH_CHOICES,
    AUTH_NONE,
    COMP_CHOICES,
    DIRECTION_WORDS,
    ENC_CHOICES,
    LEVEL_WORDS,
    REQUEST_MODE_WORDS,
    REQUEST_PROTOCOL_WORDS,
    SA_MODE_WORDS,
    SA_PROTOCOL_WORDS,
    UPPER_NAMES,
    Built,
    SAForm,
    SPForm,
    build_sa,
    build_sp,
    means,
    random_key,
)
from setkey_tui.tui.masking import DOT
from setkey_tui.tui.screens.main import EssentialsFooter

if TYPE_CHECKING:
    from setkey_tui.tui.app import SetkeyApp


def masked_preview(b: Built) -> str:
    """The statement text with the key fields shown as dots (the key inputs are password fields)."""
    text = b.text
    for start, end, fid in sorted(b.spans, reverse=True):
        if fid in ("enc_key", "auth_key") and text[start:end] != "?":
            text = text[:start] + DOT * min(end - start, 16) + text[end:]
    return text


def _choice(names: tuple[str, ...], value: str, field_id: str) -> Select[str]:
    """A drop-down of ``names`` (each shown as it is written in a statement), ``value`` chosen."""
    return Select([(n, n) for n in names], value=value, allow_blank=False, id=f"f-{field_id}")


def labelled_field(label: str, widget: Widget, field_id: str) -> ComposeResult:
    """One labelled field (``#row-<id>``) with its error line below it (``#err-<id>``): the rows of a form."""
    with Horizontal(classes="form-row", id=f"row-{field_id}"):
        yield Label(label, classes="form-label")
        with Vertical(classes="form-field"):
            yield widget
            yield Label("", id=f"err-{field_id}", classes="field-error", markup=False)


class _FormScreen(Screen[None]):
    """Shared machinery: fields by id, error labels, preview, validation, submission."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "submit", "Submit"),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    DEFAULT_CSS = """
    _FormScreen.-narrow {
        .form-layout { layout: vertical; }
        .form { padding: 0 1; }
        .form-title { margin-bottom: 0; }
        .form-label { width: 20; }
        .form-side { width: 100%; height: auto; max-height: 9; padding: 0 1; }
        .form-side .form-heading { margin-top: 0; }
        .form-side Button, .form-side .dialog-buttons { display: none; }
    }
    .form-error { color: $error; height: auto; }
    .field-error { display: none; }
    .field-error.shown { display: block; }
    """
    FIELD_IDS: ClassVar[tuple[str, ...]] = ()
    TITLE_TEXT = ""

    def __init__(self) -> None:
        super().__init__()
        self.built: Built | None = None
        self.messages: list[Message] = []
        self.problem = ""
        self.left: set[str] = set()  # fields the user has left: their errors show
        self.submitted = False  # after a submit every error shows

    @property
    def setkey_app(self) -> SetkeyApp:
        """The app (typed)."""
        return self.app  # type: ignore[return-value]

    def supported(self) -> tuple[tuple[Alg, ...], tuple[Alg, ...]]:
        """The kernel's algorithms (REGISTER), or the Linux table before the answer came."""
        return self.setkey_app.supported or (LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT)

    row = staticmethod(labelled_field)

    def footer_parts(self) -> ComposeResult:
        """Preview, general error, buttons, footer."""
        yield Label("Statement (checked by the setkey grammar on every change)", classes="form-heading")
        yield Static("", id="preview", markup=False)
        yield Label("", id="form-error", classes="form-error", markup=False)
        with Horizontal(classes="dialog-buttons"):
            yield Button("Add (ctrl+s)", variant="primary", id="submit")
            yield Button("Cancel (esc)", id="cancel")

    def value(self, field_id: str) -> str:
        """The text or selection of one field."""
        w = self.query_one(f"#f-{field_id}")
        if isinstance(w, Input):
            return w.value
        if isinstance(w, Select):
            v = w.value
            return "" if v is Select.NULL else str(v)
        return ""

    def build(self) -> Built:
        """The statement from the fields (subclasses)."""
        raise TypeError("a form screen builds its statement")

    def validate_form(self) -> bool:
        """Build, check, parse and compile; show the preview and each error at its field. True when valid."""
        b = self.build()
        self.built = b
        self.messages = []
        errors = dict(b.errors)
        general = ""
        # The form's own checks come first and name the field at fault; the grammar runs only on a statement
        # they passed, so that one mistake gives one error (a "?" standing for an empty field is no mistake).
        if not errors:
            try:
                msgs: list[Message] = []
                for st in parse(b.text, platform=self.setkey_app.platform):
                    msgs.extend(compile_statement(st, platform=self.setkey_app.platform, supported=self.supported(),
                                                  kernel_mode=False))
                self.messages = msgs
            except SetkeyParseError as exc:
                fid = b.field_at(exc.column)
                text = f"setkey: {exc.message} at [{exc.token}]"
                if fid:
                    errors[fid] = text
                else:
                    general = text
        for fid in self.FIELD_IDS:
            shown = fid in errors and (self.submitted or fid in self.left)
            label = self.query_one(f"#err-{fid}", Label)
            label.update(errors[fid] if shown else "")
            label.set_class(shown, "shown")
        self.query_one("#preview", Static).update(masked_preview(b))
        self.problem = general or ("; ".join(f"{self.label_of(k)}: {v}" for k, v in errors.items()) if errors else "")
        self.query_one("#form-error", Label).update(general)
        return not errors and not general

    def label_of(self, field_id: str) -> str:
        """The label the user reads beside a field."""
        try:
            return str(self.query_one(f"#row-{field_id} .form-label", Label).render())
        except Exception:
            return field_id

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        """A field left: its error (if any) shows from now on."""
        wid = event.widget.id or ""
        if wid.startswith("f-") and wid[2:] not in self.left:
            self.left.add(wid[2:])
            self.validate_form()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Check again on every keystroke."""
        self.validate_form()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Check again on every choice (a choice made counts as the field left)."""
        if event.select.id and event.select.id.startswith("f-") and self.is_mounted:
            self.left.add(event.select.id[2:])
        self.field_visibility()
        self.validate_form()

    def field_visibility(self) -> None:
        """Show only the fields that apply (subclasses)."""

    def on_mount(self) -> None:
        """First check and the first field focused."""
        self.field_visibility()
        self.validate_form()
        self.query(Input).first().focus()

    def action_close(self) -> None:
        """Close the form."""
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Submit, random keys or cancel."""
        if event.button.id == "submit":
            self.action_submit()
        elif event.button.id == "cancel":
            self.dismiss(None)
        elif event.button.id == "random":
            self.action_random_keys()

    def action_random_keys(self) -> None:
        """Fill the key fields with random keys of the right length (forms with keys)."""

    def action_submit(self) -> None:
        """Send the compiled messages to the kernel; errors stay on the form."""
        self.submitted = True
        if not self.validate_form():
            self.query_one("#form-error", Label).update(f"Not sent: {self.problem}")
            return
        self.query_one("#form-error", Label).update("sending…")
        self._submit(list(self.messages))

    @work(thread=True, group="kernel", exit_on_error=False)
    def _submit(self, msgs: list[Message]) -> None:
        errors = self.setkey_app.kernel_requests(msgs)
        self.app.call_from_thread(self._submitted, errors)

    def _submitted(self, errors: list[str]) -> None:
        if errors:
            self.query_one("#form-error", Label).update("The kernel refused: " + " ".join(errors))
            return
        self.app.notify(f"Sent: {masked_preview(self.built) if self.built else ''}", title="Added", markup=False)
        self.dismiss(None)


class AddSAScreen(_FormScreen):
    """``add src dst proto spi …``"""

    BINDINGS: ClassVar[list[BindingType]] = [
        *_FormScreen.BINDINGS,
        Binding("ctrl+r", "random_keys", "Random keys"),
        Binding("ctrl+k", "reveal_keys", "Show keys", priority=True),  # before the input's own ctrl+k
    ]
    FIELD_IDS = ("proto", "src", "dst", "spi", "mode", "reqid", "replay", "enc", "enc_key", "auth", "auth_key",
                 "comp", "soft", "hard", "soft_bytes", "hard_bytes")

    def compose(self) -> ComposeResult:
        start = SAForm()
        with Horizontal(classes="form-layout"):
            with VerticalScroll(classes="form"):
                yield Label("Add a security association", classes="form-title")
                yield from self.row("Protocol", _choice(SA_PROTOCOL_WORDS, start.proto, "proto"), "proto")
                yield from self.row("Source", Input(placeholder="10.0.0.1", id="f-src"), "src")
                yield from self.row("Destination", Input(placeholder="10.0.0.2", id="f-dst"), "dst")
                yield from self.row("SPI", Input(placeholder="0x1000", id="f-spi"), "spi")
                yield from self.row("Mode", _choice(SA_MODE_WORDS, start.mode, "mode"), "mode")
                yield from self.row("Reqid", Input(placeholder="(none)", id="f-reqid"), "reqid")
                yield from self.row("Replay window", Input(placeholder="(none)", id="f-replay"), "replay")
                yield from self.row("Encryption", _choice(ENC_CHOICES, start.enc, "enc"), "enc")
                yield from self.row("Encryption key", Input(placeholder="0x… (ctrl+r: random)", id="f-enc_key",
                                                            password=True), "enc_key")
                yield from self.row("Authentication", _choice(AUTH_CHOICES, start.auth, "auth"), "auth")
                yield from self.row("Authentication key", Input(placeholder="0x… (ctrl+r: random)", id="f-auth_key",
                                                                password=True), "auth_key")
                yield from self.row("Compression", _choice(COMP_CHOICES, start.comp, "comp"), "comp")
                yield from self.row("Soft lifetime (s)", Input(placeholder="(none)", id="f-soft"), "soft")
                yield from self.row("Hard lifetime (s)", Input(placeholder="(none)", id="f-hard"), "hard")
                yield from self.row("Soft limit (bytes)", Input(placeholder="(none)", id="f-soft_bytes"), "soft_bytes")
                yield from self.row("Hard limit (bytes)", Input(placeholder="(none)", id="f-hard_bytes"), "hard_bytes")
            with Vertical(classes="form-side"):
                yield from self.footer_parts()
                yield Button("Random keys (ctrl+r)", id="random")
        yield EssentialsFooter()

    def form(self) -> SAForm:
        """The field values."""
        return SAForm(**{fid: self.value(fid) for fid in self.FIELD_IDS})

    def build(self) -> Built:
        return build_sa(self.form(), self.supported())

    def field_visibility(self) -> None:
        """ESP: encryption and authentication; AH: authentication; IPComp: compression."""
        proto = self.value("proto")
        esp, ah, ipcomp = (means(SA_TYPES, proto, satype) for satype in (SAType.ESP, SAType.AH, SAType.IPCOMP))
        enc_nokey = self.value("enc") in ENC_NOKEY
        auth_nokey = self.value("auth") in (AUTH_NONE, *AUTH_NOKEY)
        shown = {
            "enc": esp,
            "enc_key": esp and not enc_nokey,
            "auth": esp or ah,
            "auth_key": (esp or ah) and not auth_nokey,
            "comp": ipcomp,
        }
        for fid, on in shown.items():
            self.query_one(f"#row-{fid}").display = on

    def action_random_keys(self) -> None:
        """Random keys of the right length for the chosen algorithms."""
        auth_algs, enc_algs = self.supported()
        enc_id = ENC_BY_NAME.get(self.value("enc"))
        auth_id = AUTH_BY_NAME.get(self.value("auth"))
        if enc_id is not None and find_alg(enc_algs, enc_id) is not None:
            self.query_one("#f-enc_key", Input).value = random_key(enc_id, enc_algs)
        if auth_id is not None and find_alg(auth_algs, auth_id) is not None:
            self.query_one("#f-auth_key", Input).value = random_key(auth_id, auth_algs)
        self.validate_form()

    def action_reveal_keys(self) -> None:
        """Show the key fields as typed, or hide them again (the preview stays masked)."""
        for fid in ("enc_key", "auth_key"):
            inp = self.query_one(f"#f-{fid}", Input)
            inp.password = not inp.password
        shown = not self.query_one("#f-enc_key", Input).password
        self.notify("Keys shown while you type (ctrl+k hides them)." if shown else "Keys hidden.", timeout=3)


class AddPolicyScreen(_FormScreen):
    """``spdadd src dst upper -P dir action request ;``"""

    FIELD_IDS = ("src", "sport", "dst", "dport", "upper", "direction", "priority", "action", "request",
                 "req_proto", "req_mode", "tsrc", "tdst", "level", "reqid")

    def compose(self) -> ComposeResult:
        start = SPForm()
        with Horizontal(classes="form-layout"):
            with VerticalScroll(classes="form"):
                yield Label("Add a security policy", classes="form-title")
                yield from self.row("Source range", Input(placeholder="10.0.0.0/24", id="f-src"), "src")
                yield from self.row("Source port", Input("any", id="f-sport"), "sport")
                yield from self.row("Destination range", Input(placeholder="10.0.1.0/24", id="f-dst"), "dst")
                yield from self.row("Destination port", Input("any", id="f-dport"), "dport")
                yield from self.row("Upper protocol", _choice(UPPER_NAMES, start.upper, "upper"), "upper")
                yield from self.row("Direction", _choice(DIRECTION_WORDS, start.direction, "direction"),
                                    "direction")
                yield from self.row("Priority", Input(placeholder="(default)", id="f-priority"), "priority")
                yield from self.row("Action", _choice(ACTION_WORDS, start.action, "action"), "action")
                yield from self.row("Request protocol",
                                    _choice(REQUEST_PROTOCOL_WORDS, start.req_proto, "req_proto"), "req_proto")
                yield from self.row("Request mode", _choice(REQUEST_MODE_WORDS, start.req_mode, "req_mode"),
                                    "req_mode")
                yield from self.row("Tunnel source", Input(placeholder="192.0.2.1", id="f-tsrc"), "tsrc")
                yield from self.row("Tunnel destination", Input(placeholder="192.0.2.2", id="f-tdst"), "tdst")
                yield from self.row("Level", _choice(LEVEL_WORDS, start.level, "level"), "level")
                yield from self.row("Reqid (unique)", Input(placeholder="(none)", id="f-reqid"), "reqid")
                yield Label("", id="err-request", classes="field-error", markup=False)
            with Vertical(classes="form-side"):
                yield from self.footer_parts()
        yield EssentialsFooter()

    def form(self) -> SPForm:
        """The field values."""
        return SPForm(**{fid: self.value(fid) for fid in self.FIELD_IDS if fid != "request"})

    def build(self) -> Built:
        return build_sp(self.form())

    def field_visibility(self) -> None:
        """Requests only for ipsec; tunnel endpoints only in tunnel mode."""
        ipsec = means(POLICY_TYPES, self.value("action"), PolicyType.IPSEC)
        tunnel = means(MODES, self.value("req_mode"), Mode.TUNNEL)
        for fid in ("req_proto", "req_mode", "level", "reqid"):
            self.query_one(f"#row-{fid}").display = ipsec
        for fid in ("tsrc", "tdst"):
            self.query_one(f"#row-{fid}").display = ipsec and tunnel
