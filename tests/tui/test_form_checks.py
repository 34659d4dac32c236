"""The Add SA and Add policy forms catch what the kernel would refuse, one error under the field at fault,
shown once the field was left or on submit."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label, Static

from setkey_tui.tui.formtext import SAForm, SPForm, build_sa, build_sp
from setkey_tui.tui.screens.forms import AddPolicyScreen, AddSAScreen
from tests.tui.helpers import error_at, fill, wait_for
from tests.tui.test_flows import SIZE, started

AES = "0x" + "11" * 16
SHA256 = "0x" + "22" * 32


def shown_errors(form: AddSAScreen | AddPolicyScreen) -> dict[str, str]:
    return {fid: error_at(form, fid) for fid in form.FIELD_IDS if error_at(form, fid)}


async def test_each_address_is_checked_on_its_own(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("a")
        form = app.screen
        await fill(pilot, src="10.0.0.300", dst="fd00::9")
        assert error_at(form, "src") == "10.0.0.300 is not an IPv4 or IPv6 address (the form takes numeric addresses)"
        assert error_at(form, "dst") == ""  # fd00::9 is a fine address; the family check waits for a good source
        await fill(pilot, src="10.0.0.3")
        assert error_at(form, "src") == ""
        assert error_at(form, "dst") == "IPv4 source with an IPv6 destination: both must be of one family"
        await fill(pilot, dst="10.0.0.9/24")
        assert "without a /prefix length" in error_at(form, "dst")


async def test_policy_prefix_lengths_ports_and_protocols_are_checked_in_the_form(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("p")
        form = app.screen
        assert isinstance(form, AddPolicyScreen)
        await fill(pilot, src="10.5.0.0/16", dst="10.6.0.0/33")
        assert error_at(form, "dst") == "10.6.0.0/33: the prefix length of an IPv4 address is 0 to 32"
        await fill(pilot, dst="fd00::/129")
        assert error_at(form, "dst") == "fd00::/129: the prefix length of an IPv6 address is 0 to 128"
        await fill(pilot, dst="10.6.0.0/16", dport="70000", sport="http")
        assert error_at(form, "dport") == "a port is any or 0 to 65535"
        assert error_at(form, "sport") == "a port is any or 0 to 65535"
        await fill(pilot, dport="443", sport="any", upper="tcp")
        assert shown_errors(form) == {}
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: app.mirror.spd.total == 1)
        assert app.mirror.spd.row_at(0).upper_name == "tcp"
    assert "upper-layer protocol is any" in build_sp(SPForm(src="10.0.0.1", dst="10.0.0.2", upper="300")).errors["upper"]


async def test_tunnel_without_endpoints_gives_one_error_at_the_endpoint(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("p")
        form = app.screen
        await fill(pilot, src="10.1.0.0/16", dst="10.2.0.0/16", req_mode="tunnel")
        await pilot.press("ctrl+s")
        assert shown_errors(form) == {"tsrc": "tunnel mode needs the tunnel source address",
                                      "tdst": "tunnel mode needs the tunnel destination address"}
        assert isinstance(app.screen, AddPolicyScreen)  # not sent
        await fill(pilot, tsrc="192.0.2.1", tdst="192.0.2.2", level="use")
        assert shown_errors(form) == {"level": "level use is refused for an outbound tunnel policy (Linux: EINVAL)"}


async def test_a_fresh_form_shows_no_error_until_a_field_is_left_or_submitted(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("a")
        form = app.screen
        assert isinstance(form, AddSAScreen)
        assert shown_errors(form) == {}
        assert app.focused is form.query_one("#f-src", Input)
        await pilot.press("tab")  # Source left empty: now it says so, and only there
        assert shown_errors(form) == {"src": "the source address is required"}
        await pilot.press("ctrl+s")
        errors = shown_errors(form)
        assert {"src", "dst", "spi", "enc_key", "auth_key"} <= errors.keys()
        assert errors["enc_key"] == "the encryption key is required (ctrl+r makes a random one)"
        assert str(form.query_one("#form-error", Label).render()).startswith("Not sent: Source: the source address")


async def test_keys_can_be_shown_while_typing(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("a")
        form = app.screen
        key = form.query_one("#f-enc_key", Input)
        assert key.password
        await pilot.press("ctrl+k")
        assert not key.password and not form.query_one("#f-auth_key", Input).password
        await fill(pilot, enc_key=AES)
        assert AES[2:] not in str(form.query_one("#preview", Static).render())  # the preview stays masked
        await pilot.press("ctrl+k")
        assert key.password


async def test_byte_lifetimes_and_soft_after_hard(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("a")
        form = app.screen
        await fill(pilot, src="10.0.0.1", dst="10.0.0.2", spi="0x1000", enc_key=AES, auth_key=SHA256,
                   soft="100", hard="50")
        assert error_at(form, "soft") == ("the soft limit (100s) comes after the hard one (50s): the SA would die "
                                          "before its warning")
        await fill(pilot, soft="", hard="", soft_bytes="5000", hard_bytes="1000")
        assert "the soft limit (5000 bytes) comes after the hard one (1000 bytes)" in error_at(form, "soft_bytes")
        await fill(pilot, soft_bytes="")
        assert "Linux wants a soft limit when there is a hard one" in error_at(form, "soft_bytes")
        await fill(pilot, soft_bytes="800")
        assert shown_errors(form) == {}
        assert "-bh 1000 -bs 800" in str(form.query_one("#preview", Static).render())
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 1)
        assert app.mirror.sad.row_at(0).hard_bytes == 1000


@pytest.mark.parametrize(("soft", "hard", "field"), [("1", str(2**64), "hard"), (str(2**64), str(2**64 - 1), "soft")])
def test_sa_form_lifetime_beyond_64_bits_is_refused(soft: str, hard: str, field: str) -> None:
    form = SAForm(src="10.0.0.1", dst="10.0.0.2", spi="0x1000", enc="null", auth="none", soft=soft, hard=hard)
    assert "0 to 18446744073709551615" in build_sa(form, ((), ())).errors[field]
    setattr(form, field, str(2**64 - 1))
    assert field not in build_sa(form, ((), ())).errors
