"""`r` dumps again, connects again after a failed kernel socket, and says why not on a replay."""

from __future__ import annotations

from tests.tui.helpers import record_notifications, wait_for
from tests.tui.test_flows import SA1, SIZE, started


async def test_r_connects_again_after_the_kernel_socket_failed(env) -> None:
    env.apply(SA1)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        old_service, old_listener = app.service, app.listener
        old_service.transport.close()  # the kernel connection breaks under the app
        await pilot.press("r")
        assert await wait_for(pilot, lambda: "dump failed" in app.status), app.status
        assert app.link_broken and "r connects again" in app.status
        env.apply(SA1.replace("0x1001", "0x1002"))  # changes the app cannot see now
        await pilot.press("r")
        assert await wait_for(pilot, lambda: app.status == "live" and app.mirror.sad.total == 2), app.status
        assert not app.link_broken
        assert app.service is not old_service and app.listener is not old_listener
        env.apply(SA1.replace("0x1001", "0x1003"))  # the new listener is live
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 3)


async def test_r_on_a_replay_says_there_is_nothing_to_dump(env, tmp_path) -> None:
    from setkey_tui.kernel.replay import ReplayTransport
    from setkey_tui.pfkey.platform import LINUX
    from setkey_tui.tui.app import SetkeyApp

    rec = tmp_path / "rec.txt"
    rec.write_text("")
    app = SetkeyApp(lambda: ReplayTransport(rec, LINUX), replay=True, now=env.clock)
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        await pilot.press("r")
        assert await wait_for(pilot, lambda: any("replay of a recording" in n for n in notes))
        assert app.status != "reloading…"
