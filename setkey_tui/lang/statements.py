"""setkey statements as data: one frozen dataclass per statement, each with ``to_text()`` giving valid setkey.

Fields hold what was written (names, numbers, key bytes), not wire values; ``compile.py`` turns them into
PF_KEY messages. Equality ignores where a statement came from (``source``) and parse-time warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from setkey_tui.lang.policy import Policy


class TokenRef(NamedTuple):
    """Where a token was: setkey's line number, its text, its offset in ``script`` (the whole source)."""

    line: int
    text: str
    pos: int = 0
    script: str = ""

    @property
    def column(self) -> int:
        """1-based column of the token's first character on its physical line."""
        return self.pos - (self.script.rfind("\n", 0, self.pos) + 1) + 1

    @property
    def source_line(self) -> str:
        """The physical source line the token starts on."""
        start = self.script.rfind("\n", 0, self.pos) + 1
        end = self.script.find("\n", self.pos)
        return self.script[start:] if end < 0 else self.script[start:end]


class Source(NamedTuple):
    """Positions a compiler needs for its diagnostics (the statement's end, its keys), and the warnings
    setkey prints while parsing the statement."""

    end: TokenRef
    enc_key: TokenRef | None = None
    auth_key: TokenRef | None = None
    warnings: tuple[tuple[str, TokenRef], ...] = ()


@dataclass(frozen=True)
class HostPort:
    """An SA endpoint: host text and optional ``[port]`` (``any``, a number or a service name)."""

    host: str
    port: str | None = None

    def to_text(self) -> str:
        """``host`` or ``host[port]``."""
        return self.host if self.port is None else f"{self.host}[{self.port}]"


@dataclass(frozen=True)
class AddressRange:
    """A policy selector endpoint: host, optional ``/prefix`` and optional ``[port]``."""

    host: str
    prefix: int | None = None
    port: str | None = None

    def to_text(self) -> str:
        """``host[/prefix][[port]]``."""
        text = self.host
        if self.prefix is not None:
            text += f"/{self.prefix}"
        if self.port is not None:
            text += f"[{self.port}]"
        return text


@dataclass(frozen=True)
class SecurityContext:
    """``-ctx DOI ALG "label"`` (Linux SELinux label)."""

    doi: int
    alg: int
    label: bytes

    def to_text(self) -> str:
        """The ``-ctx`` option."""
        return f'-ctx {self.doi} {self.alg} "{self.label.decode("utf-8", "surrogateescape")}"'


def key_text(key: bytes) -> str:
    """A key as setkey text: ``0x`` and lowercase hex (every key can be written so), ``""`` when empty."""
    return "0x" + key.hex() if key else '""'


def _flags(ai_flags: tuple[str, ...]) -> str:
    return "".join(f" {f}" for f in ai_flags)


@dataclass(frozen=True)
class SAOptions:
    """The SA extensions ``-m -u -r -f -lh -ls -bh -bs -ctx`` (None: not written)."""

    mode: str | None = None
    reqid: int | None = None
    replay: int | None = None
    flags: tuple[str, ...] = ()
    hard_time: int | None = None
    soft_time: int | None = None
    hard_bytes: int | None = None
    soft_bytes: int | None = None
    ctx: SecurityContext | None = None

    def to_text(self) -> str:
        """The options, each with a leading blank."""
        parts: list[str] = []
        if self.mode is not None:
            parts.append(f"-m {self.mode}")
        if self.reqid is not None:
            parts.append(f"-u {self.reqid}")
        if self.replay is not None:
            parts.append(f"-r {self.replay}")
        parts.extend(f"-f {f}" for f in self.flags)
        for flag, value in (("-lh", self.hard_time), ("-ls", self.soft_time), ("-bh", self.hard_bytes),
                            ("-bs", self.soft_bytes)):
            if value is not None:
                parts.append(f"{flag} {value}")
        if self.ctx is not None:
            parts.append(self.ctx.to_text())
        return "".join(f" {p}" for p in parts)


@dataclass(frozen=True)
class SAStatement:
    """``add``, ``get`` or ``delete``: one SA by addresses, protocol and SPI.

    ``protocol``: esp, esp-old, ah, ah-old, ipcomp, esp-udp, tcp or None (nothing written). ``natt_oa``:
    the address after ``esp-udp``. ``enc``/``auth``/``comp``: algorithm names (``add`` only), with keys.
    """

    command: str
    src: HostPort
    dst: HostPort
    protocol: str | None
    spi: int
    ai_flags: tuple[str, ...] = ()
    natt_oa: str | None = None
    options: SAOptions = SAOptions()
    enc: str | None = None
    enc_key: bytes | None = None
    auth: str | None = None
    auth_key: bytes | None = None
    comp: str | None = None
    rawcpi: bool = False
    source: Source | None = field(default=None, compare=False, repr=False)

    def to_text(self) -> str:
        """The statement as setkey text."""
        proto = ""
        if self.protocol is not None:
            proto = f" {self.protocol}"
            if self.natt_oa is not None:
                proto += f" {self.natt_oa}"
        text = (f"{self.command}{_flags(self.ai_flags)} {self.src.to_text()} {self.dst.to_text()}{proto}"
                f" {self.spi:#x}{self.options.to_text()}")
        if self.enc is not None:
            text += f" -E {self.enc}"
            if self.enc_key is not None:
                text += f" {key_text(self.enc_key)}"
        if self.auth is not None:
            text += f" -A {self.auth}"
            if self.auth_key is not None:
                text += f" {key_text(self.auth_key)}"
        if self.comp is not None:
            text += f" -C {self.comp}" + (" -R" if self.rawcpi else "")
        return text + ";"


@dataclass(frozen=True)
class DeleteAllStatement:
    """``deleteall src dst protocol``: every SA between two hosts."""

    src: str
    dst: str
    protocol: str | None
    ai_flags: tuple[str, ...] = ()
    source: Source | None = field(default=None, compare=False, repr=False)

    def to_text(self) -> str:
        """The statement as setkey text."""
        proto = f" {self.protocol}" if self.protocol else ""
        return f"deleteall{_flags(self.ai_flags)} {self.src} {self.dst}{proto};"


@dataclass(frozen=True)
class FlushStatement:
    """``flush [protocol]`` (SAD)."""

    protocol: str | None = None
    source: Source | None = field(default=None, compare=False, repr=False)

    def to_text(self) -> str:
        """The statement as setkey text."""
        return f"flush {self.protocol};" if self.protocol else "flush;"


@dataclass(frozen=True)
class DumpStatement:
    """``dump [protocol]`` (SAD)."""

    protocol: str | None = None
    source: Source | None = field(default=None, compare=False, repr=False)

    def to_text(self) -> str:
        """The statement as setkey text."""
        return f"dump {self.protocol};" if self.protocol else "dump;"


@dataclass(frozen=True)
class SPDStatement:
    """``spdadd``, ``spdupdate`` or ``spddelete`` with a selector and a ``-P`` policy.

    ``upper``: the upper-layer protocol as written (``any``, a number, a name); ``misc``: ICMP
    ``type,code`` or a GRE key written after it.
    """

    command: str
    src: AddressRange
    dst: AddressRange
    upper: str
    policy: Policy
    ai_flags: tuple[str, ...] = ()
    misc: str | None = None
    ctx: SecurityContext | None = None
    source: Source | None = field(default=None, compare=False, repr=False)

    def to_text(self) -> str:
        """The statement as setkey text."""
        misc = f" {self.misc}" if self.misc is not None else ""
        ctx = f" {self.ctx.to_text()}" if self.ctx is not None else ""
        return (f"{self.command}{_flags(self.ai_flags)} {self.src.to_text()} {self.dst.to_text()} {self.upper}"
                f"{misc}{ctx} -P {self.policy.to_text()};")


@dataclass(frozen=True)
class SPDTaggedStatement:
    """``spdadd tagged "NAME" -P policy`` (or ``spdupdate tagged``)."""

    command: str
    tag: str
    policy: Policy
    source: Source | None = field(default=None, compare=False, repr=False)

    def to_text(self) -> str:
        """The statement as setkey text."""
        return f'{self.command} tagged "{self.tag}" -P {self.policy.to_text()};'


@dataclass(frozen=True)
class SPDFlushStatement:
    """``spdflush``."""

    source: Source | None = field(default=None, compare=False, repr=False)

    def to_text(self) -> str:
        """The statement as setkey text."""
        return "spdflush;"


@dataclass(frozen=True)
class SPDDumpStatement:
    """``spddump``."""

    source: Source | None = field(default=None, compare=False, repr=False)

    def to_text(self) -> str:
        """The statement as setkey text."""
        return "spddump;"


@dataclass(frozen=True)
class ExitStatement:
    """``exit``, ``quit`` or ``bye``: stop reading statements."""

    word: str = "exit"
    source: Source | None = field(default=None, compare=False, repr=False)

    def to_text(self) -> str:
        """The statement as setkey text."""
        return f"{self.word};"


Statement = (
    SAStatement
    | DeleteAllStatement
    | FlushStatement
    | DumpStatement
    | SPDStatement
    | SPDTaggedStatement
    | SPDFlushStatement
    | SPDDumpStatement
    | ExitStatement
)
