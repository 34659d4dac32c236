"""Raw PF_KEY v2 conversations, held against the real Linux kernel and the simulated one alike.

Every test runs twice: `[real]` over the project's PFKeySocket (marker `kernel`; skipped where socket(PF_KEY)
cannot be opened, i.e. on the host; run inside user-mode-linux by tests/kernel/uml/run_suite.py, where none may
skip), and `[sim]` over a served simulated kernel (runs everywhere).  Messages are built and read with the
project's codec; the assertions state what Linux 6.1's af_key answered (learnt in user-mode-linux), so the same
assertions passing on both is the proof that the simulated kernel answers like the real one.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pfkey_conversation as pc
import pytest
from scenario_replay import served_sim

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.pfkey.constants import ExtType, Level, Mode, MsgType, SAState, SAType
from setkey_tui.pfkey.message import decode
from setkey_tui.pfkey.platform import LINUX

PROJECT = Path(__file__).resolve().parents[2]
REAL = pytest.param(
    "pfkey",
    marks=[
        pytest.mark.kernel,
        pytest.mark.skipif(
            not pc.pfkey_available(), reason="no PF_KEY socket in this kernel (run via uml/run_suite.py)"
        ),
    ],
    id="real",
)


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """One simulated kernel served for this module (started on first use)."""
    with served_sim() as spec:
        yield spec


@pytest.fixture(params=[REAL, pytest.param("sim", id="sim")])
def spec(request: pytest.FixtureRequest) -> str:
    """The kernel under test: the real PF_KEY socket (marker `kernel`), or the served simulated kernel."""
    if request.param == "sim":
        return request.getfixturevalue("served")
    return request.param


@pytest.fixture
def kern(spec: str) -> Iterator[pc.Conversation]:
    """A conversation with the kernel under test, on an empty SAD and SPD."""
    conv = pc.Conversation(pc.open_transport(spec))
    conv.flush_all()
    yield conv
    conv.flush_all()
    conv.close()


def test_register_answers_the_linux_algorithms(kern: pc.Conversation) -> None:
    for satype in (SAType.ESP, SAType.AH, SAType.IPCOMP, SAType.UNSPEC):
        reply = kern.request(pc.header(MsgType.REGISTER, satype))
        assert reply.errno == 0
        auth = reply.get(ExtType.SUPPORTED_AUTH)
        enc = reply.get(ExtType.SUPPORTED_ENCRYPT)
        assert auth is not None and enc is not None
        assert auth.algs == LINUX_SUPPORTED_AUTH
        assert enc.algs == LINUX_SUPPORTED_ENCRYPT


@pytest.mark.parametrize("sa", pc.SAMPLE_SAS, ids=[s.name for s in pc.SAMPLE_SAS])
def test_add_get_dump_delete(kern: pc.Conversation, sa: pc.SampleSA) -> None:
    added = kern.request(sa.add())
    assert added.errno == 0
    pc.assert_sa_reply(added, sa)
    got = kern.request(sa.get())
    assert got.errno == 0
    pc.assert_sa_reply(got, sa)
    assert got.get(ExtType.LIFETIME_CURRENT) is not None
    dumped = kern.dump(sa.satype)
    assert [pc.spi_of(m) for m in dumped] == [sa.spi]
    assert [m.seq for m in dumped] == [0]
    assert kern.request(sa.delete()).errno == 0
    assert kern.request(sa.get()).errno == errno.ESRCH
    assert kern.dump(sa.satype) == []


def test_dump_is_newest_first_and_seq_counts_up_then_ends_at_zero(kern: pc.Conversation) -> None:
    """Linux numbers dump replies 1, 2, … and gives the last one seq 0 (not a count-down)."""
    spis = [0x3001, 0x3002, 0x3003, 0x3004]
    for spi in spis:
        assert kern.request(pc.esp_sa(spi).add()).errno == 0
    dumped = kern.dump(SAType.ESP)
    assert [m.seq for m in dumped] == [1, 2, 3, 0]
    assert [pc.spi_of(m) for m in dumped] == spis[::-1]
    assert all(m.type == MsgType.DUMP and m.satype == SAType.ESP for m in dumped)


def test_dump_of_empty_sad_is_enoent(kern: pc.Conversation) -> None:
    reply = kern.request(pc.header(MsgType.DUMP, SAType.ESP))
    assert reply.errno == errno.ENOENT
    assert reply.extensions == ()


def test_delete_without_sa_extension_is_refused(kern: pc.Conversation) -> None:
    """Linux has no kernel-side deleteall: DELETE needs the SA extension (setkey deletes one by one)."""
    for spi in (0x7001, 0x7002):
        assert kern.request(pc.esp_sa(spi).add()).errno == 0
    bulk = pc.esp_sa(0x7001).delete().without(ExtType.SA)
    assert kern.request(bulk).errno == errno.EINVAL
    assert len(kern.dump(SAType.ESP)) == 2


def test_deleteall_as_setkey_does_it(kern: pc.Conversation) -> None:
    """setkey's deleteall on Linux: dump, then DELETE each SA between the two addresses."""
    for sa in (pc.esp_sa(0x7001), pc.esp_sa(0x7002), pc.esp_sa(0x7003, src="10.0.0.3", dst="10.0.0.4")):
        assert kern.request(sa.add()).errno == 0
    for msg in kern.dump(SAType.ESP):
        src, dst = msg.get(ExtType.ADDRESS_SRC), msg.get(ExtType.ADDRESS_DST)
        if src.sockaddr.text() == "10.0.0.1" and dst.sockaddr.text() == "10.0.0.2":
            assert kern.request(pc.esp_sa(pc.spi_of(msg)).delete()).errno == 0
    assert [pc.spi_of(m) for m in kern.dump(SAType.ESP)] == [0x7003]


def test_flush_one_satype_keeps_the_others(kern: pc.Conversation) -> None:
    esp, ah, comp = pc.esp_sa(0x5001), pc.ah_sa(0x5002), pc.ipcomp_sa(0x5003)
    for sa in (esp, ah, comp):
        assert kern.request(sa.add()).errno == 0
    flushed = kern.request(pc.header(MsgType.FLUSH, SAType.ESP))
    assert flushed.errno == 0 and flushed.satype == SAType.ESP
    assert kern.dump(SAType.ESP) == []
    assert [pc.spi_of(m) for m in kern.dump(SAType.AH)] == [0x5002]
    assert [pc.spi_of(m) for m in kern.dump(SAType.IPCOMP)] == [0x5003]
    assert kern.request(pc.header(MsgType.FLUSH, SAType.UNSPEC)).errno == 0
    assert kern.dump(SAType.UNSPEC) == []


def test_esp_without_an_encryption_key_extension_is_einval(kern: pc.Conversation) -> None:
    """Even with the null cipher, Linux wants a sadb_key (setkey sends one of 0 bits)."""
    sa = pc.esp_sa(0x1016, enc=(pc.EncAlg.NULL, b""), auth=None)
    assert kern.request(sa.add().without(ExtType.KEY_ENCRYPT)).errno == errno.EINVAL
    assert kern.request(sa.add()).errno == 0


def test_add_twice_is_eexist(kern: pc.Conversation) -> None:
    sa = pc.esp_sa(0x7301)
    assert kern.request(sa.add()).errno == 0
    again = kern.request(sa.add())
    assert again.errno == errno.EEXIST
    assert again.extensions == ()


def test_delete_and_get_of_a_missing_sa_are_esrch(kern: pc.Conversation) -> None:
    assert kern.request(pc.esp_sa(0x7999).delete()).errno == errno.ESRCH
    assert kern.request(pc.esp_sa(0x7999).get()).errno == errno.ESRCH


@pytest.mark.parametrize(
    "sa",
    [
        pc.esp_sa(0x1012, enc=(pc.EncAlg.AESCBC, bytes(15))),
        pc.esp_sa(0x1013, enc=(pc.EncAlg.TRIPLEDESCBC, bytes(16))),
        pc.esp_sa(0x1014, enc=(pc.EncAlg.AESCBC, bytes(40))),
    ],
    ids=["aes-cbc-120", "3des-128", "aes-cbc-320"],
)
def test_bad_key_length_is_einval(kern: pc.Conversation, sa: pc.SampleSA) -> None:
    assert kern.request(sa.add()).errno == errno.EINVAL
    assert kern.dump(sa.satype) == []


def test_authentication_key_length_is_not_checked(kern: pc.Conversation) -> None:
    """HMAC takes a key of any length: Linux accepts hmac-sha256 with 160 bits, or hmac-sha1 with 24."""
    for sa in (
        pc.ah_sa(0x1017, auth=(pc.AuthAlg.SHA2_256HMAC, bytes(20))),
        pc.esp_sa(0x1018, auth=(pc.AuthAlg.SHA1HMAC, bytes(3))),
    ):
        added = kern.request(sa.add())
        pc.assert_sa_reply(added, sa)


@pytest.mark.parametrize("state", list(SAState), ids=[s.name.lower() for s in SAState])
def test_add_ignores_the_requested_state(kern: pc.Conversation, state: SAState) -> None:
    """setkey sends state 0 (larval); whatever the request says, the added SA is mature."""
    sa = pc.esp_sa(0x1020 + state)
    added = kern.request(sa.add().with_ext(sa.sa_ext()._replace(state=state)))
    pc.assert_sa_reply(added, sa)


@pytest.mark.parametrize(
    ("sa", "field", "value"),
    [
        (pc.esp_sa(0x1030), "encrypt", 99),
        (pc.esp_sa(0x1031), "auth", 99),
        (pc.ipcomp_sa(0x1032), "encrypt", pc.CompAlg.LZS),
        (pc.ipcomp_sa(0x1033), "encrypt", pc.CompAlg.LZJH),
    ],
    ids=["enc-99", "auth-99", "ipcomp-lzs", "ipcomp-lzjh"],
)
def test_unknown_algorithm_is_enosys(kern: pc.Conversation, sa: pc.SampleSA, field: str, value: int) -> None:
    msg = sa.add().with_ext(sa.sa_ext()._replace(**{field: value}))
    assert kern.request(msg).errno == errno.ENOSYS


def test_ah_with_null_authentication_is_einval(kern: pc.Conversation) -> None:
    sa = pc.ah_sa(0x1034, auth=(pc.AuthAlg.X_NULL, b""))
    assert kern.request(sa.add()).errno == errno.EINVAL


@pytest.mark.parametrize(("soft", "hard"), [(None, 60), (5, None)], ids=["hard-only", "soft-only"])
def test_one_lifetime_without_the_other_is_einval(
    kern: pc.Conversation, soft: int | None, hard: int | None
) -> None:
    sa = pc.esp_sa(0x500E, hard=hard, soft=soft)
    assert kern.request(sa.add()).errno == errno.EINVAL


def test_soft_then_hard_expire(kern: pc.Conversation) -> None:
    """A registered socket gets EXPIRE (pid 0) soft, then hard; between them the SA is dying, then gone."""
    assert kern.request(pc.header(MsgType.REGISTER, SAType.ESP)).errno == 0
    sa = pc.esp_sa(0xA001, soft=1, hard=3)
    assert kern.request(sa.add()).errno == 0
    soft = kern.wait_for(lambda m: m.type == MsgType.EXPIRE, timeout=10.0)
    assert soft.pid == 0 and soft.errno == 0 and soft.satype == SAType.ESP
    assert ExtType.LIFETIME_SOFT in soft and ExtType.LIFETIME_HARD not in soft
    assert pc.spi_of(soft) == sa.spi
    assert pc.state_of(kern.request(sa.get())) == SAState.DYING
    hard = kern.wait_for(lambda m: m.type == MsgType.EXPIRE, timeout=10.0)
    assert hard.pid == 0 and ExtType.LIFETIME_HARD in hard and ExtType.LIFETIME_SOFT not in hard
    assert pc.spi_of(hard) == sa.spi
    assert kern.request(sa.get()).errno == errno.ESRCH


DIRECTIONS = [pc.Direction.INBOUND, pc.Direction.OUTBOUND, pc.Direction.FWD]


@pytest.mark.parametrize("direction", DIRECTIONS, ids=["in", "out", "fwd"])
@pytest.mark.parametrize("level", list(Level), ids=[lv.name.lower() for lv in Level])
@pytest.mark.parametrize("family", [4, 6])
def test_spd_add_dump_delete_each_level_with_tunnel(
    kern: pc.Conversation, level: Level, family: int, direction: int
) -> None:
    sp = pc.sample_policy(family, level, direction=direction)
    added = kern.request(sp.add())
    if level == Level.USE and direction == pc.Direction.OUTBOUND:
        # Linux refuses optional (use) tunnel templates in outbound policies.
        assert added.errno == errno.EINVAL
        assert kern.spddump() == []
        return
    assert added.errno == 0
    pc.assert_sp_reply(added, sp)
    policy = added.get(ExtType.X_POLICY)
    assert policy.id % 8 == direction - 1  # the kernel's index carries the direction (in 0, out 1, fwd 2)
    dumped = kern.spddump()
    assert len(dumped) == 1 and dumped[0].seq == 0
    pc.assert_sp_reply(dumped[0], sp)
    assert dumped[0].get(ExtType.X_POLICY).id == policy.id
    assert kern.request(sp.add()).errno == errno.EEXIST
    deleted = kern.request(sp.delete())
    assert deleted.errno == 0
    assert kern.spddump() == []
    assert kern.request(sp.delete()).errno == errno.ENOENT


def test_spd_in_policy_and_spdflush(kern: pc.Conversation) -> None:
    out = pc.sample_policy(4, Level.REQUIRE)
    inbound = pc.sample_policy(4, Level.USE, direction=pc.Direction.INBOUND)
    assert kern.request(out.add()).errno == 0
    assert kern.request(inbound.add()).errno == 0
    dirs = sorted(m.get(ExtType.X_POLICY).dir for m in kern.spddump())
    assert dirs == [pc.Direction.INBOUND, pc.Direction.OUTBOUND]
    flushed = kern.request(pc.header(MsgType.X_SPDFLUSH))
    assert flushed.errno == 0
    assert kern.spddump() == []


def test_spdupdate_adds_or_replaces(kern: pc.Conversation) -> None:
    """Linux's SPDUPDATE inserts without the exclusive flag: a missing policy is simply added."""
    sp = pc.sample_policy(6, Level.REQUIRE)
    update = sp.add()._replace(type=MsgType.X_SPDUPDATE)
    first = kern.request(update)
    assert first.errno == 0
    assert kern.request(sp.add()).errno == errno.EEXIST
    unique = pc.sample_policy(6, Level.UNIQUE)
    assert kern.request(unique.add()._replace(type=MsgType.X_SPDUPDATE)).errno == 0
    dumped = kern.spddump()
    assert len(dumped) == 1
    pc.assert_sp_reply(dumped[0], unique)


def test_unique_without_reqid_gets_one_above_the_manual_range(kern: pc.Conversation) -> None:
    sp = pc.SamplePolicy(4, Level.UNIQUE, reqid=0)
    reply = kern.request(sp.add())
    assert reply.errno == 0
    (request,) = reply.get(ExtType.X_POLICY).requests
    assert request.level == Level.UNIQUE and request.reqid > 0x3FFF


def test_spdget_and_spddelete2_by_id(kern: pc.Conversation) -> None:
    sp = pc.sample_policy(4, Level.UNIQUE)
    policy_id = kern.request(sp.add()).get(ExtType.X_POLICY).id
    got = kern.request(pc.policy_by_id(MsgType.X_SPDGET, policy_id))
    assert got.errno == 0
    pc.assert_sp_reply(got, sp)
    assert kern.request(pc.policy_by_id(MsgType.X_SPDGET, policy_id + 1)).errno == errno.ENOENT
    assert kern.request(pc.policy_by_id(MsgType.X_SPDDELETE2, policy_id)).errno == 0
    assert kern.request(pc.policy_by_id(MsgType.X_SPDGET, policy_id)).errno == errno.ENOENT
    assert (
        kern.request(pc.policy_by_id(MsgType.X_SPDGET, 7)).errno == errno.EINVAL
    )  # direction 7 does not exist


LISTENER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import pfkey_conversation as pc
    from setkey_tui.pfkey.message import decode
    watched, wanted = int(sys.argv[2]), int(sys.argv[3])
    sock = pc.open_transport(sys.argv[4])
    sock.set_promisc(True)
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while wanted and time.monotonic() < deadline:
        data = sock.recv(0.2)
        if data is not None:
            print(data.hex(), flush=True)
            wanted -= decode(data).pid == watched
    """
)


def test_promiscuous_listener_in_another_process_sees_the_changes(kern: pc.Conversation, spec: str) -> None:
    """Another process's promiscuous socket sees each request once and each broadcast reply twice."""
    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(Path(__file__).parent), str(os.getpid()), "6", spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
        env=dict(os.environ, PYTHONPATH=str(PROJECT)),
    )
    try:
        assert listener.stdout is not None and listener.stderr is not None
        first = listener.stdout.readline().strip()
        assert first == "ready", f"the listener did not start: {listener.stderr.read() if not first else first}"
        sa = pc.esp_sa(0x6001)
        assert kern.request(sa.add()).errno == 0
        assert kern.request(sa.delete()).errno == 0
        lines, _ = listener.communicate(timeout=30)
    finally:
        listener.kill()
        listener.communicate()
    seen = [decode(bytes.fromhex(line), LINUX) for line in lines.split()]
    me = os.getpid()
    adds = [m for m in seen if m.type == MsgType.ADD and m.pid == me]
    deletes = [m for m in seen if m.type == MsgType.DELETE and m.pid == me]
    requests = [m for m in adds if ExtType.LIFETIME_CURRENT not in m]
    replies = [m for m in adds if ExtType.LIFETIME_CURRENT in m]
    assert len(requests) == 1 and len(replies) == 2
    assert all(pc.spi_of(m) == 0x6001 for m in adds)
    assert len(deletes) == 3
    assert [m.type for m in seen if m.pid == me] == [MsgType.ADD] * 3 + [MsgType.DELETE] * 3


def test_ipcomp_sa_carries_its_cpi_and_algorithm(kern: pc.Conversation) -> None:
    sa = pc.ipcomp_sa(0x4001, family=6)
    assert kern.request(sa.add()).errno == 0
    got = kern.request(sa.get())
    assert got.get(ExtType.SA).encrypt == pc.CompAlg.DEFLATE
    assert got.get(ExtType.KEY_ENCRYPT) is None and got.get(ExtType.KEY_AUTH) is None


def test_sa2_mode_and_reqid_are_kept(kern: pc.Conversation) -> None:
    sa = pc.esp_sa(0x4101, mode=Mode.TUNNEL, reqid=77)
    assert kern.request(sa.add()).errno == 0
    sa2 = kern.request(sa.get()).get(ExtType.X_SA2)
    assert (sa2.mode, sa2.reqid) == (Mode.TUNNEL, 77)


def test_replies_keep_the_request_seq_and_pid(kern: pc.Conversation) -> None:
    msg = pc.esp_sa(0x4201).add()._replace(seq=4242, pid=os.getpid())
    kern.sock.send(msg.encode(LINUX))
    reply = kern.wait_for(lambda m: m.type == MsgType.ADD, timeout=5.0)
    assert (reply.seq, reply.pid, reply.errno) == (4242, os.getpid(), 0)
