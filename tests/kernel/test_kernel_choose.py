"""open_transport: auto (falls back to the embedded kernel here), pfkey, sim, sim@PATH, replay:FILE, env."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from setkey_tui.kernel import pfkey_socket
from setkey_tui.kernel.base import TransportError
from setkey_tui.kernel.choose import ENV_VAR, default_spec, open_transport
from setkey_tui.kernel.sim.transport import SimTransport, reset_shared_host, shared_host
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import header_only
from setkey_tui.pfkey.platform import LINUX
from tests.kernel.pfkey_conversation import pfkey_available


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_auto_falls_back_to_the_embedded_kernel_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pfkey(*args: object, **kw: object) -> socket.socket:
        raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")

    monkeypatch.setattr(pfkey_socket.socket, "socket", no_pfkey)
    t = open_transport("auto")
    try:
        assert isinstance(t, SimTransport) and t.host is shared_host()
        assert t.description.startswith("simulated kernel (no PF_KEY here: address family not supported")
    finally:
        t.close()


def test_auto_fallback_says_when_pf_key_is_only_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kw: object) -> socket.socket:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(pfkey_socket.socket, "socket", denied)
    t = open_transport("auto")
    try:
        assert t.description == ("simulated kernel (PF_KEY needs root or CAP_NET_ADMIN: "
                                 "operation not permitted; XFRM netlink: operation not permitted)")
    finally:
        t.close()


@pytest.mark.skipif(pfkey_available(), reason="this kernel has PF_KEY")
def test_pfkey_spec_without_pf_key_is_one_clear_line() -> None:
    with pytest.raises(TransportError) as exc:
        open_transport("pfkey")
    text = str(exc.value)
    assert "\n" not in text and "modprobe af_key" in text and "--kernel sim" in text


def test_sim_transports_share_one_kernel() -> None:
    a, b = open_transport("sim"), open_transport("sim")
    try:
        assert a.description == "simulated kernel (embedded)"
        b.set_promisc(True)
        a.send(header_only(MsgType.X_SPDFLUSH, pid=1).encode(LINUX))
        kinds = {b.recv(1.0)[1] for _ in range(3)}  # b: its echo twice, then a's request copy
        assert MsgType.X_SPDFLUSH in kinds
    finally:
        a.close()
        b.close()


def test_env_var_gives_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_spec() == "auto"
    monkeypatch.setenv(ENV_VAR, "sim")
    assert default_spec() == "sim"
    t = open_transport(None)
    try:
        assert t.description == "simulated kernel (embedded)"
    finally:
        t.close()
    monkeypatch.setenv(ENV_VAR, "bogus")
    with pytest.raises(TransportError, match="unknown kernel 'bogus'"):
        open_transport("auto")


@pytest.mark.parametrize("spec", ["sim@", "replay:", "xfrm2", "pfkey2"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(TransportError):
        open_transport(spec)


def test_sim_at_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="cannot reach the simulated kernel"):
        open_transport(f"sim@{tmp_path / 'nothing.sock'}")


def test_replay_file(tmp_path: Path) -> None:
    rec = tmp_path / "rec.txt"
    rec.write_text(header_only(MsgType.X_PROMISC, 1).encode(LINUX).hex() + "\n")
    t = open_transport(f"replay:{rec}")
    try:
        assert "replay" in t.description.lower() or str(rec) in t.description
    finally:
        t.close()
    with pytest.raises(TransportError):
        open_transport(f"replay:{tmp_path / 'missing.txt'}")


def test_reset_gives_the_next_sim_transport_an_empty_kernel() -> None:
    from sim_build import sa_msg

    from setkey_tui.service import KeyService

    before = KeyService(open_transport("sim"), pid=8)
    before.request(sa_msg(spi=0x777))
    assert len(KeyService(open_transport("sim"), pid=8).dump()) >= 1
    fresh = reset_shared_host()
    after = KeyService(open_transport("sim"), pid=8)
    assert after.transport.host is fresh and after.dump() == []  # type: ignore[attr-defined]
    assert len(before.dump()) >= 1  # the old transport keeps its kernel
    before.close()
    after.close()
