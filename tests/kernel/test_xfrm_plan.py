"""plan / apply over the XFRM transport, on this machine's kernel inside an `unshare -Urn` namespace (policies
only: the host kernel has no ESP/AH for SAs). Issue 14 item 4: plan and apply work over every transport."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from xfrm_netns import run_in_netns

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_NETLINK"), reason="not Linux")

START = ("spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;\n"
         "spdadd 10.3.0.0/24 10.4.0.0/24 any -P out discard;\n")
WANTED = ("spdflush;\n"
          "spdadd 10.1.0.0/24 10.2.0.0/24 any -P out prio 100 ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;\n"
          "spdadd 10.5.0.0/24 10.6.0.0/24 tcp -P out none;\n")                                    # added


def _cli(*args: str) -> tuple[int, str, str]:
    from setkey_tui.plan.cli import main

    out, err = io.StringIO(), io.StringIO()
    rc = main(list(args), out, err, io.StringIO())
    return rc, out.getvalue(), err.getvalue()


def _body(folder: str) -> dict:
    from setkey_tui.kernel.xfrm.transport import XfrmTransport
    from setkey_tui.pfkey.constants import ExtType
    from setkey_tui.script import run_script
    from setkey_tui.service import KeyService

    with XfrmTransport() as t:
        assert run_script(START, t, out=io.StringIO(), err=io.StringIO()) == 0
    wanted = Path(folder) / "wanted.conf"
    wanted.write_text(WANTED)
    result = {"plan": _cli("plan", "--kernel", "xfrm", str(wanted)),
              "apply": _cli("apply", "--kernel", "xfrm", "--yes", str(wanted)),
              "again": _cli("plan", "--kernel", "xfrm", str(wanted))}
    with XfrmTransport() as t:
        svc = KeyService(t)
        result["spd"] = sorted((m.get(ExtType.ADDRESS_SRC).sockaddr.text(), m.get(ExtType.X_POLICY).priority,
                                len(m.get(ExtType.X_POLICY).requests)) for m in svc.spddump())
    return result


def test_plan_and_apply_over_xfrm(tmp_path: Path) -> None:
    result = run_in_netns(_body, str(tmp_path))
    rc, out, err = result["plan"]
    assert rc == 2, (out, err)
    assert "1 to add, 1 to change, 1 to remove" in out, out
    rc, out, err = result["apply"]
    assert rc == 0, (out, err)
    rc, out, err = result["again"]
    assert rc == 0, (out, err)  # the kernel is in sync with the file now
    assert result["spd"] == [("10.1.0.0", 0x80000000 - 100, 1), ("10.5.0.0", 0x80000000, 0)], result["spd"]
