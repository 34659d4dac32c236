"""Form text building (field spans, checks before the grammar), key masking, recording format, cells."""

from __future__ import annotations

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT, find_alg
from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.grammar import parse
from setkey_tui.pfkey.constants import AuthAlg, EncAlg, MsgType
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.render.hexdump import hexdump
from setkey_tui.render.kdebug import kdebug
from setkey_tui.scenarios.synthetic import sa_message
from setkey_tui.tui.cells import duration, human_bytes
from setkey_tui.tui.formtext import SAForm, SPForm, build_sa, build_sp, key_bits, random_key
from setkey_tui.tui.masking import key_byte_ranges, mask_hex_text, mask_hexdump, message_keys
from setkey_tui.tui.ops import delete_sa_message, export_text
from setkey_tui.tui.widgets.monitor import Captured, recording_text

SUP = (LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT)


def test_sa_statement_parses_and_compiles() -> None:
    f = SAForm(src="10.0.0.1", dst="10.0.0.2", spi="0x1234", mode="tunnel", reqid="7", soft="30", hard="60",
               enc_key="0x" + "11" * 32, auth_key="0x" + "22" * 20, auth="hmac-sha1")
    b = build_sa(f, SUP)
    assert not b.errors
    assert b.text == ("add 10.0.0.1 10.0.0.2 esp 0x1234 -m tunnel -u 7 -lh 60 -ls 30 -E aes-cbc 0x" + "11" * 32
                      + " -A hmac-sha1 0x" + "22" * 20 + " ;")
    msgs = [m for st in parse(b.text) for m in compile_statement(st, supported=SUP)]
    assert [m.type for m in msgs] == [MsgType.ADD]
    assert b.field_at(b.text.index("0x1234") + 1) == "spi"
    assert b.field_at(b.text.index("-E") + 1) == "enc"


def test_sa_checks_say_why() -> None:
    b = build_sa(SAForm(src="fd00::1", dst="10.0.0.2", spi="12", enc_key="0x11", auth_key="zz"), SUP)
    assert "one family" in b.errors["dst"]
    assert "kernel keeps 1-255" in b.errors["spi"]
    assert "128 to 256 bits; this one has 8" in b.errors["enc_key"]
    assert "hex digits" in b.errors["auth_key"]
    b = build_sa(SAForm(proto="ipcomp", src="10.0.0.1", dst="10.0.0.2", spi="0x10000"), SUP)
    assert "CPI" in b.errors["spi"]
    b = build_sa(SAForm(proto="ah", src="10.0.0.1", dst="10.0.0.2", spi="0x1000", auth="none"), SUP)
    assert "AH needs" in b.errors["auth"]
    b = build_sa(SAForm(src="10.0.0.1", dst="10.0.0.2", spi="0x1000", reqid="99999", enc_key="0x" + "1" * 32,
                        auth_key="0x" + "2" * 64), SUP)
    assert set(b.errors) == {"reqid"}


def test_random_keys_have_an_accepted_length() -> None:
    for alg_id, table in ((EncAlg.AESCBC, LINUX_SUPPORTED_ENCRYPT), (EncAlg.TRIPLEDESCBC, LINUX_SUPPORTED_ENCRYPT),
                          (EncAlg.AESCTR, LINUX_SUPPORTED_ENCRYPT), (AuthAlg.SHA2_512HMAC, LINUX_SUPPORTED_AUTH),
                          (EncAlg.BLOWFISHCBC, LINUX_SUPPORTED_ENCRYPT)):
        alg = find_alg(table, alg_id)
        key = random_key(alg_id, table)
        bits = key_bits(key)
        assert alg is not None and bits is not None and alg.minbits <= bits <= alg.maxbits, (alg_id, key)
    assert random_key(EncAlg.NULL, LINUX_SUPPORTED_ENCRYPT) == ""
    assert random_key(EncAlg.AESCBC, LINUX_SUPPORTED_ENCRYPT) != random_key(EncAlg.AESCBC, LINUX_SUPPORTED_ENCRYPT)


def test_policy_statement() -> None:
    b = build_sp(SPForm(src="10.0.0.0/24", sport="500", dst="10.0.1.0/24", upper="udp", direction="in",
                        priority="10", reqid="9"))
    assert not b.errors
    assert b.text == "spdadd 10.0.0.0/24[500] 10.0.1.0/24[any] udp -P in prio 10 ipsec esp/transport//unique:9 ;"
    assert parse(b.text)
    assert b.field_at(b.text.index("500") + 1) == "sport"
    b = build_sp(SPForm(src="10.0.0.0/24", dst="10.0.1.0/24", req_mode="tunnel", tsrc="192.0.2.1", sport="70000"))
    assert "needs the tunnel destination address" in b.errors["tdst"] and "65535" in b.errors["sport"]
    b = build_sp(SPForm(src="10.0.0.0/24", dst="10.0.1.0/24", action="discard"))
    assert b.text == "spdadd 10.0.0.0/24[any] 10.0.1.0/24[any] any -P out discard ;" and not b.errors


def test_masking_every_text_form() -> None:
    msg = sa_message(3, msg_type=MsgType.ADD)
    raw = msg.encode(LINUX)
    keys = message_keys(msg)
    assert [len(k) for k in keys] == [32, 16]
    decoding = kdebug(raw, LINUX)
    assert keys[1].hex()[:8] in decoding.replace(" ", "")
    masked = mask_hex_text(decoding, keys)
    assert keys[1].hex()[:8] not in masked.replace(" ", "") and "••••" in masked
    dump = hexdump(raw)
    ranges = key_byte_ranges(raw, LINUX)
    assert sum(len(r) for r in ranges) == 48
    masked_dump = mask_hexdump(dump, ranges)
    assert masked_dump.count("••") == 48
    assert masked_dump.splitlines()[0] == dump.splitlines()[0]  # the header is untouched


def test_recording_format_and_ops() -> None:
    items = [Captured(b"\x02\x0b\x00\x01", 1700000000.25, 11, 1), Captured(b"\xff", 5.9999999, None, None)]
    assert recording_text(items) == "1700000000.250000 020b0001\n6.000000 ff\n"
    row = __import__("setkey_tui.mirror", fromlist=["SARow"]).SARow(sa_message(4))
    d = delete_sa_message(row)
    assert d.type == MsgType.DELETE and d.satype == 3 and len(d.extensions) == 3
    text = export_text([row], [], with_keys=False)
    assert text.startswith("#!/usr/sbin/setkey -f") and "add 10.0.0.4 172.16.0.4 esp" in text
    assert row.msg.get(9).key.hex() not in text  # type: ignore[union-attr]


def test_cells() -> None:
    assert [duration(s) for s in (0, 59, 61, 3600 * 3 + 240, 86400 * 2 + 3600)] == ["0s", "59s", "1m01s",
                                                                                      "3h04m", "2d01h"]
    assert [human_bytes(n) for n in (12, 1536, 5 * 1024**3)] == ["12", "1.5K", "5.0G"]


def test_docs_and_help_name_every_binding() -> None:
    from pathlib import Path

    from setkey_tui.tui.app import ACTIONS
    from setkey_tui.tui.screens.help import help_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "tui.md").read_text()
    shown = {"slash": "/", "f1": "F1", "enter": "Enter"}
    for _action, key, title, _help in ACTIONS:
        assert f"`{shown.get(key, key)}`" in doc, key
        assert f"**{title}**" in help_markdown(), title
    for screen in ("sad", "spd", "detail-sa", "add-sa", "add-policy", "monitor", "help", "flush", "filter"):
        assert f"../screenshots/{screen}.svg" in doc
