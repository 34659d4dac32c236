"""The detail screen: follows its entry, says when it is gone, reads like `ip xfrm state`; entries the
language cannot express."""

from __future__ import annotations

from textual.widgets import Label

from setkey_tui.mirror import IPPROTO_NAMES, SARow, SPRow
from setkey_tui.tui.screens.main import EssentialsFooter
from tests.tui.helpers import wait_for
from tests.tui.test_flows import SA1, SIZE, started


def test_upper_layer_names_as_the_language_spells_them() -> None:
    assert IPPROTO_NAMES[47] == "gre" and IPPROTO_NAMES[58] == "icmp6" and IPPROTO_NAMES[255] == "any"
    assert IPPROTO_NAMES[0] == "ip" and IPPROTO_NAMES[132] == "sctp"


async def test_detail_follows_the_entry_and_says_when_it_is_gone(env) -> None:
    from setkey_tui.tui.screens.detail import DetailScreen

    env.apply(SA1.replace("-u 5", "-u 5 -lh 100 -ls 50"))
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        def title() -> str:  # the screen follows every second; follow now rather than wait for the timer
            detail.follow()
            return str(detail.query_one(".detail-title", Label).render())

        assert "(mature)" in title()
        footer = detail.query_one(EssentialsFooter)
        footer_actions = lambda: [str(getattr(k, "action", "")) for k in footer.children]  # noqa: E731
        assert await wait_for(pilot, lambda: "delete" in footer_actions()), footer_actions()
        env.clock.t += 60  # past the soft lifetime: the kernel sends the soft EXPIRE
        assert await wait_for(pilot, lambda: "(dying)" in title())
        assert "state=dying" in str(detail.query_one("#detail-dump").render())
        env.clock.t += 60  # past the hard lifetime: the SA goes
        assert await wait_for(pilot, lambda: "gone from the kernel" in title())
        await pilot.press("k")  # the last known state can still be read
        assert "0x00112233445566778899aabbccddeeff" in str(detail.query_one("#detail-statement").render())
        # … but it cannot be deleted: the key does nothing and the footer does not offer it
        assert "d" not in detail.active_bindings
        assert await wait_for(pilot, lambda: "delete" not in footer_actions()), footer_actions()
        await pilot.press("d")
        assert app.screen is detail


def test_example_problems_are_short() -> None:
    from setkey_tui.tui.app import example_problems

    twice = "\n".join(f"The result of line {n}: File exists." for n in range(1, 20))
    assert example_problems(twice).startswith("The example is already loaded")
    mixed = "\n".join(f"The result of line {n}: Invalid argument." for n in range(1, 9))
    assert example_problems(mixed).splitlines() == [*mixed.splitlines()[:5], "… and 3 more"]
    assert example_problems("line 3: syntax error at [x]") == "line 3: syntax error at [x]"


def _odd_rows() -> tuple[SARow, SPRow]:
    from setkey_tui.pfkey.extensions import PolicyExt, SAExt
    from setkey_tui.scenarios.synthetic import sa_message, sp_message

    sa = sa_message(1)
    sa = sa._replace(extensions=tuple(e._replace(auth=99) if isinstance(e, SAExt) else e for e in sa.extensions))
    sp = sp_message(1)
    sp = sp._replace(extensions=tuple(e._replace(dir=0) if isinstance(e, PolicyExt) else e for e in sp.extensions))
    return SARow(sa), SPRow(sp)


def test_entries_the_language_cannot_express_become_comments() -> None:
    from setkey_tui.tui.ops import export_text, statement_of

    sa, sp = _odd_rows()
    assert statement_of(sa, with_keys=True) == ("# no setkey statement can recreate this entry: authentication "
                                                "algorithm 99 has no setkey name\n")
    assert "policy direction 0" in statement_of(sp, with_keys=False)
    text = export_text([sa], [sp], with_keys=False)
    assert all(line.startswith("#") for line in text.splitlines())


async def test_detail_copy_and_delete_of_an_inexpressible_entry_do_not_crash(env) -> None:
    from setkey_tui.tui.screens.detail import DetailScreen
    from setkey_tui.tui.screens.dialogs import ConfirmScreen

    sa, _ = _odd_rows()
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        from setkey_tui.listener import MessageEvent
        from setkey_tui.pfkey.constants import MsgType

        msg = sa.msg._replace(type=MsgType.ADD)  # as if the kernel had announced it
        app.events.put(MessageEvent(msg.encode(app.platform), msg, None, env.clock()))
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 1)
        await pilot.press("y")
        assert any("no setkey statement" in n for n in env.notes)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert "no setkey statement" in str(app.screen.query_one("#detail-statement").render())
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "escape")
        assert app.is_running


async def test_fields_read_like_ip_xfrm_state(env) -> None:
    from setkey_tui.tui.screens.detail import DetailScreen

    env.apply(SA1.replace("-u 5", "-u 5 -lh 100 -ls 50 -bh 5000 -bs 4000"))
    env.clock.t += 7
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        fields = str(detail.query_one("#detail-fields").render()).splitlines()
        assert fields == [
            "protocol        esp",
            "source          10.0.0.1",
            "destination     10.0.0.2",
            "SPI             0x00001001 (4097)",
            "mode            transport",
            "reqid           5",
            "state           mature",
            "encryption      aes-cbc, 128-bit key •••••••• (k reveals)",
            "authentication  hmac-sha256, 256-bit key •••••••• (k reveals)",
            "replay window   0 (no replay check)",
            "added           2023-11-14 22:13:20 (7s ago)",
            "first used      never",
            "traffic         0 bytes, 0 packets",
            "soft limit      50s after it was added: at 22:14:10 (in 43s); 4000 bytes (4000 left)",
            "hard limit      1m40s after it was added: at 22:15:00 (in 1m33s); 5000 bytes (5000 left)",
        ]
        await pilot.press("k")
        assert "encryption      aes-cbc, key 0x00112233445566778899aabbccddeeff" in str(
            detail.query_one("#detail-fields").render())


async def test_policy_fields_name_priority_and_request_as_setkey_writes_them(env) -> None:
    from setkey_tui.tui.screens.detail import DetailScreen

    env.apply("spdadd 10.1.0.0/16 10.2.0.0/16 any -P out prio def+10 ipsec esp/tunnel/192.0.2.1-192.0.2.2/require ;\n")
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("2", "enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        fields = str(detail.query_one("#detail-fields").render())
        assert "traffic    10.1.0.0/16[any] → 10.2.0.0/16[any] any" in fields
        assert "priority   prio def + 10 (2147483638)" in fields
        assert "request    esp/tunnel/192.0.2.1-192.0.2.2/require" in fields
        assert "IpsecRequest" not in fields and "Endpoint" not in fields


async def test_delete_confirmation_shows_the_delete_statement_sent(env) -> None:
    from setkey_tui.tui.screens.dialogs import ConfirmScreen

    env.apply(SA1 + "spdadd 10.0.0.2 10.0.0.1 any -P in ipsec esp/transport//require ;\n")
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("enter", "d")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert confirm.details == "delete 10.0.0.1 10.0.0.2 esp 0x1001 ;"
        await pilot.press("y")
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 0)
        await pilot.press("2", "slash", *"dir:in", "enter", "enter", "d")
        assert app.screen.details == ("spddelete 10.0.0.2/32[any] 10.0.0.1/32[any] any -P in ;  # this policy only: "
                                      "its fwd copy stays (as setkey -k)")
        await pilot.press("n")


async def test_copy_says_where_the_statement_went(env, tmp_path, monkeypatch) -> None:
    from setkey_tui.tui.ops import copy_file_path

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    env.apply(SA1)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("enter", "y")
        assert await wait_for(pilot, lambda: any("set-clipboard on" in n for n in env.notes))
        note = env.notes[-1]
        assert f"It is also in {copy_file_path()}." in note and copy_file_path().startswith(str(tmp_path))
        assert "\nadd 10.0.0.1 10.0.0.2 esp 0x1001" in (tmp_path / copy_file_path().rsplit("/", 1)[1]).read_text()


def test_the_fields_are_read_from_the_entrys_model() -> None:
    """field_lines reads the row's model: what the message says, keys masked unless revealed; a message that
    is not a whole SA (no source address) says so in one line instead of failing."""
    from setkey_tui.pfkey.constants import ExtType
    from setkey_tui.scenarios.synthetic import sa_message, sp_message
    from setkey_tui.tui.screens.detail import field_lines

    row = SARow(sa_message(3))
    now = row.model.current.addtime + 30
    masked = dict(line.split(None, 1) for line in field_lines(row, reveal=False, now=now).splitlines()
                  if not line.startswith(("first", "soft", "hard", "replay")))
    assert masked["SPI"] == "0x00001003 (4099)" and masked["destination"] == "172.16.0.3"
    assert "(k reveals)" in masked["encryption"] and bytes([10]).hex() * 16 not in masked["encryption"]
    revealed = field_lines(row, reveal=True, now=now)
    assert "key 0x" + bytes([10]).hex() * 16 in revealed
    assert "30s ago" in revealed
    sp = field_lines(SPRow(sp_message(3)), reveal=False, now=now)
    assert sp.splitlines()[:5] == ["traffic    10.0.0.3/32[any] → 172.16.0.3/32[any] any", "direction  out",
                                   "action     ipsec", "priority   prio def (2147483648)",
                                   "request    esp/transport//require"]
    no_src = SARow(sa_message(3).without(ExtType.ADDRESS_SRC))
    assert field_lines(no_src, reveal=False, now=now).startswith("(this message does not describe a whole entry")
