"""-D over a transport that knows more than PF_KEY says (XFRM): the entry, then what PF_KEY lost."""

from __future__ import annotations

import io

from setkey_tui.cli import Conversation, parse_args, run_dump
from setkey_tui.kernel.xfrm.notes import Notes
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import LINUX
from tests.render.helpers import esp_sa

NOW = 1700000000


class NotingKernel:
    """Answers a DUMP with one SA (seq 0) and keeps XFRM notes for it, as the XFRM transport does."""

    platform = LINUX
    description = "real kernel over XFRM netlink"

    def __init__(self, notes: Notes) -> None:
        self.notes = notes
        self.replies: list[bytes] = []

    def send(self, data: bytes) -> None:
        pid = int.from_bytes(data[12:16], "little")
        self.replies.append(esp_sa(now=NOW)._replace(pid=pid, seq=0).encode(LINUX))

    def recv(self, timeout: float | None = None) -> bytes | None:
        return self.replies.pop(0) if self.replies else None

    def notes_for(self, msg: Message) -> Notes:
        return self.notes

    def set_promisc(self, on: bool) -> None:
        pass

    def close(self) -> None:
        pass


def _dump(notes: Notes, *flags: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    conv = Conversation(NotingKernel(notes), parse_args(["-D", *flags]), LINUX, lambda: NOW, out, err)  # type: ignore[arg-type]
    assert run_dump(conv) == 0, err.getvalue()
    return out.getvalue()


NOTES = Notes(lines=(("esn", "on, replay window 128"), ("mark", "0x10/0xff")),
              inexpressible="AEAD rfc4106(gcm(aes)): af_key shows no cipher and no key for it")


def test_an_inexpressible_entry_says_so_after_its_text() -> None:
    text = _dump(NOTES)
    entry, _, rest = text.partition("\txfrm: ")
    assert entry.startswith("10.0.0.1 10.0.0.2 \n\tesp mode=") and entry.endswith("refcnt=0\n")
    assert rest == "not expressible in PF_KEY: AEAD rfc4106(gcm(aes)): af_key shows no cipher and no key for it\n"


def test_verbose_shows_every_attribute_pf_key_lost() -> None:
    lines = [line for line in _dump(NOTES, "-v").splitlines() if line.startswith("\txfrm: ")]
    assert lines == ["\txfrm: not expressible in PF_KEY: AEAD rfc4106(gcm(aes)): af_key shows no cipher and no "
                     "key for it", "\txfrm: esn on, replay window 128", "\txfrm: mark 0x10/0xff"]


def test_no_notes_no_lines() -> None:
    assert "xfrm:" not in _dump(Notes(), "-v")
