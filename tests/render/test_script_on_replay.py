"""Script mode (-f) end to end against the replay kernel: requests get the recorded replies, in order."""

from __future__ import annotations

from errno import ESRCH

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.pfkey.constants import ExtType, MsgType, SAType
from setkey_tui.pfkey.extensions import SupportedExt
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import LINUX

from .conftest import load_cases

SCRIPT = """\
add 10.0.0.1 10.0.0.2 esp 0x1003 -E aes-cbc 0x2222222222222222222222222222222222222222222222222222222222222222
    -A hmac-sha256 0x3333333333333333333333333333333333333333333333333333333333333333;
get 10.0.0.1 10.0.0.2 esp 0x1003;
delete 10.0.0.1 10.0.0.2 esp 0x9999;
"""


def _kernel_sa() -> Message:
    """The real kernel's dump reply for SPI 0x1003 (recorded), as the answer to a GET."""
    for case in load_cases("realkernel.jsonl"):
        for h in case["dump_hex"]:
            m = decode(bytes.fromhex(h), LINUX)
            sa = m.get(ExtType.SA)
            if sa is not None and sa.spi == 0x1003 and m.get(ExtType.KEY_ENCRYPT) is not None:
                return m
    raise AssertionError("no recorded SA 0x1003 with keys")


def test_script_runs_against_recorded_replies(run_cli, replay_file, tmp_path) -> None:
    register = Message(MsgType.REGISTER, 0, extensions=(
        SupportedExt(ExtType.SUPPORTED_AUTH, LINUX_SUPPORTED_AUTH),
        SupportedExt(ExtType.SUPPORTED_ENCRYPT, LINUX_SUPPORTED_ENCRYPT)))
    sa = _kernel_sa()
    add_echo = sa._replace(type=MsgType.ADD, seq=0)
    get_reply = sa._replace(type=MsgType.GET, seq=0, pid=4242)
    delete_error = header_only(MsgType.DELETE, SAType.ESP, errno=ESRCH)
    recording = replay_file([m.encode(LINUX) for m in (register, add_echo, get_reply, delete_error)])
    script = tmp_path / "ipsec.conf"
    script.write_text(SCRIPT)

    r = run_cli("--kernel", f"replay:{recording}", "-f", str(script))

    assert r.rc == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "10.0.0.1 10.0.0.2 "
    assert lines[1].startswith("\tesp mode=transport spi=4099(0x00001003)")
    assert any(line.startswith("\tE: aes-cbc  22222222 22222222") for line in lines)
    assert "\tsadb_seq=0 pid=4242 refcnt=0" in lines
    assert lines[-1] == "The result of line 4: No such process."


def test_hex_flag_dumps_every_request_before_sending(run_cli, tmp_path) -> None:
    script = tmp_path / "flush.conf"
    script.write_text("flush esp;\n")
    r = run_cli("--kernel", "sim", "-H", "-f", str(script))
    assert r.rc == 0, r.err
    first = r.out.splitlines()[0]
    # sadb_msg: version 2, type FLUSH (9), errno 0, satype ESP (3), len 2; then reserved, seq, pid
    assert first.startswith("00000000: 02 09 00 03 02 00 00 00 00 00 00 00 ") and first.endswith(" ")
    assert len(r.out.splitlines()) == 1
