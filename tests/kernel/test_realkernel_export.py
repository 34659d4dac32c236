"""The TUI's export applied to an empty real kernel recreates exactly the exported state (marker `kernel`, run
inside user-mode-linux by uml/run_suite.py). The kernel's automatic ``-P fwd`` copies of inbound tunnel
policies are left out of the script and come back with their ``-P in`` policies (issue 11 item 12)."""

from __future__ import annotations

import io

import pfkey_conversation as pc
import pytest

from setkey_tui.kernel.pfkey_socket import PFKeySocket
from setkey_tui.mirror import SARow, SPRow
from setkey_tui.pfkey.extensions import KeyExt
from setkey_tui.script import run_script
from setkey_tui.service import KeyService
from setkey_tui.tui.ops import export_text

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not pc.pfkey_available(), reason="no PF_KEY socket in this kernel (run via uml/run_suite.py)"),
]

EK = "0x00112233445566778899aabbccddeeff"
AK = "0x" + "ab" * 32
STATE = (
    f"add 192.0.2.1 192.0.2.2 esp 0x1001 -m tunnel -u 77 -E aes-cbc {EK} -A hmac-sha256 {AK};\n"
    f"add 192.0.2.2 192.0.2.1 esp 0x1002 -m tunnel -u 78 -E aes-cbc {EK} -A hmac-sha256 {AK};\n"
    f"add 10.0.0.1 10.0.0.2 ah 0x2001 -lh 3600 -ls 2880 -A hmac-sha1 0x{'cd' * 20};\n"
    "add 10.0.0.1 10.0.0.2 ipcomp 0x3001 -C deflate;\n"
    f"add fd00::1 fd00::2 esp 0x4001 -bh 1000000 -bs 800000 -E 3des-cbc 0x{'ef' * 24};\n"
    "spdadd 10.7.0.0/16 10.8.0.0/16 any -P out prio 5 ipsec esp/tunnel/192.0.2.1-192.0.2.2/unique:77 ;\n"
    "spdadd 10.8.0.0/16 10.7.0.0/16 any -P in prio 5 ipsec esp/tunnel/192.0.2.2-192.0.2.1/unique:78 ;\n"
    "spdadd 10.9.0.0/16 10.10.0.0/16 any -P fwd ipsec esp/tunnel/192.0.2.9-192.0.2.10/require ;\n"
    "spdadd 10.0.0.1 10.0.0.2 tcp -P out ipsec ah/transport//require ipcomp/transport//use ;\n"
    "spdadd fd00::1 fd00::2 any -P out none ;\n"
)


def _apply(text: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    transport = PFKeySocket()
    try:
        rc = run_script(text, transport, out=out, err=err)
    finally:
        transport.close()
    assert (rc, out.getvalue(), err.getvalue()) == (0, "", "")  # no "File exists" for a fwd copy


def _rows() -> tuple[list[SARow], list[SPRow]]:
    svc = KeyService(PFKeySocket())
    try:
        return [SARow(m) for m in svc.dump()], [SPRow(m) for m in svc.spddump()]
    finally:
        svc.close()


def _state() -> tuple[list[tuple], list[tuple]]:
    sas, sps = _rows()
    return (sorted((r.key, r.state, r.reqid, r.mode_name, r.enc_name, r.auth_name, r.hard_bytes,
                    tuple(e for e in r.msg.extensions if isinstance(e, KeyExt))) for r in sas),
            sorted((r.key, r.action, r.priority, r.requests) for r in sps))


def test_export_applied_to_an_empty_real_kernel_recreates_the_state() -> None:
    pc.flush_real_kernel()
    try:
        _apply(STATE)
        before = _state()
        assert len(before[1]) == 6  # five policies and the kernel's fwd copy of the inbound tunnel one
        text = export_text(*_rows(), with_keys=True)
        assert "# 5 policies (1 fwd copy left out: setkey adds them with their -P in policies)" in text
        pc.flush_real_kernel()
        _apply(text)
        assert _state() == before
        assert sorted(export_text(*_rows(), with_keys=True).splitlines()) == sorted(text.splitlines())
    finally:
        pc.flush_real_kernel()
