"""Plain kazoo API against corral: nodes, sequences, transactions, ACLs, watches, sessions."""

import re
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import Callback, EventType, KazooState
from kazoo.security import (
    ACL,
    Id,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Permissions,
    make_acl,
    make_digest_acl,
)

from _util import EventLog, TcpProxy, wait_until


def flush_callbacks(client, timeout=10.0):
    """Waits until every watch callback already queued on ``client`` has run.

    kazoo runs watch callbacks one at a time, in order, on one thread; a callback queued now
    runs after all earlier ones.
    """
    done = threading.Event()
    client.handler.dispatch_callback(Callback("watch", done.set, ()))
    assert done.wait(timeout), "kazoo's callback thread is stuck"


# --- nodes ----------------------------------------------------------------------------------


def test_create_get_set_delete_with_versions(zk):
    assert zk.create("/a", b"one") == "/a"
    data, stat = zk.get("/a")
    assert data == b"one"
    assert stat.version == 0
    assert stat.data_length == 3
    assert stat.czxid == stat.mzxid
    assert stat.ephemeralOwner == 0
    assert stat.numChildren == 0

    # Times are milliseconds since the epoch.
    assert abs(stat.ctime / 1000.0 - time.time()) < 120
    assert stat.mtime == stat.ctime

    stat2 = zk.set("/a", b"two", version=0)
    assert stat2.version == 1
    assert stat2.mzxid > stat.mzxid
    assert stat2.czxid == stat.czxid
    assert stat2.ctime == stat.ctime and stat2.mtime >= stat.mtime
    with pytest.raises(BadVersionError):
        zk.set("/a", b"three", version=0)
    assert zk.get("/a")[0] == b"two"

    with pytest.raises(NodeExistsError):
        zk.create("/a", b"again")
    with pytest.raises(NoNodeError):
        zk.create("/missing/child")
    with pytest.raises(NoNodeError):
        zk.get("/missing")
    with pytest.raises(NoNodeError):
        zk.set("/missing", b"x")

    zk.create("/a/child")
    with pytest.raises(NotEmptyError):
        zk.delete("/a")
    with pytest.raises(BadVersionError):
        zk.delete("/a/child", version=5)
    zk.delete("/a/child", version=0)
    zk.delete("/a")
    assert zk.exists("/a") is None
    with pytest.raises(NoNodeError):
        zk.delete("/a")


def test_create_makepath_include_data_and_recursive_delete(zk):
    path, stat = zk.create("/x/y/z", b"deep", makepath=True, include_data=True)
    assert path == "/x/y/z"
    assert stat.data_length == 4 and stat.version == 0
    assert zk.get_children("/x") == ["y"]
    zk.create("/x/y/w")
    zk.delete("/x", recursive=True)
    assert zk.exists("/x") is None


def test_empty_and_large_values(zk):
    zk.create("/empty")
    assert zk.get("/empty")[0] == b""
    big = bytes(range(256)) * 2000  # 512000 bytes, under jute.maxbuffer (1 MiB)
    zk.create("/big", big)
    assert zk.get("/big")[0] == big
    assert zk.exists("/big").data_length == len(big)


def test_stat_children_and_cversion(zk):
    zk.create("/p")
    before = zk.exists("/p")
    zk.create("/p/c1")
    zk.create("/p/c2")
    zk.delete("/p/c1")
    after = zk.exists("/p")
    assert after.numChildren == 1
    assert after.cversion == before.cversion + 3
    assert after.pzxid > before.pzxid
    assert after.version == before.version  # data untouched


def test_ensure_path(zk, make_client):
    zk.ensure_path("/e/f/g")
    assert zk.exists("/e/f/g") is not None
    # Idempotent, and existing data is kept.
    zk.set("/e/f", b"keep")
    zk.ensure_path("/e/f/g")
    zk.ensure_path("/e/f")
    assert zk.get("/e/f")[0] == b"keep"
    # The chroot is transparent: a client at the real root sees the full path.
    root = make_client(chroot_path=False)
    chroot_prefix = zk.chroot
    assert root.exists(chroot_prefix + "/e/f/g") is not None
    assert zk.get_children("/") == ["e"]


def test_ephemeral_nodes_belong_to_their_session(make_client):
    owner = make_client()
    other = make_client()
    owner.create("/eph", b"mine", ephemeral=True)
    stat = other.exists("/eph")
    assert stat is not None
    assert stat.ephemeralOwner == owner.client_id[0]
    assert stat.ephemeralOwner != other.client_id[0]
    with pytest.raises(NoChildrenForEphemeralsError):
        owner.create("/eph/child")

    deleted = threading.Event()
    other.exists("/eph", watch=lambda ev: ev.type == EventType.DELETED and deleted.set())
    owner.stop()
    assert deleted.wait(10), "closing the owner's session did not delete its ephemeral node"
    assert other.exists("/eph") is None


def test_sequence_nodes(make_client):
    zk = make_client()
    other = make_client()
    zk.create("/seq")
    names = [zk.create("/seq/n-", b"", sequence=True) for _ in range(3)]
    names.append(other.create("/seq/n-", b"", ephemeral=True, sequence=True))
    suffixes = []
    for name in names:
        m = re.fullmatch(r"/seq/n-(\d{10})", name)
        assert m, name
        suffixes.append(int(m.group(1)))
    assert suffixes == sorted(suffixes) and len(set(suffixes)) == 4
    assert suffixes[0] == 0
    assert suffixes == [0, 1, 2, 3]

    # The counter counts the parent's child creations: a deletion neither frees a number
    # nor consumes one (ZooKeeper 3.8 gives 4 here too, though cversion also counts deletes)...
    zk.delete(names[-2])
    assert zk.exists("/seq").cversion == 5
    nxt = zk.create("/seq/n-", sequence=True)
    assert nxt == "/seq/n-%010d" % 4
    # ...and it is per parent, shared by every prefix.
    assert zk.create("/seq/other-", sequence=True) == "/seq/other-%010d" % 5
    zk.create("/seq2")
    assert zk.create("/seq2/", sequence=True) == "/seq2/%010d" % 0

    other.stop()
    assert sorted(zk.get_children("/seq")) == sorted(
        ["n-%010d" % 0, "n-%010d" % 1, "n-%010d" % 4, "other-%010d" % 5]
    )


def test_concurrent_sequence_creates_are_unique(make_client):
    clients = [make_client() for _ in range(4)]
    clients[0].create("/cs")
    created = EventLog()

    def creator(c):
        for _ in range(25):
            created.append(c.create("/cs/item-", sequence=True))

    threads = [threading.Thread(target=creator, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    names = created.items()
    assert len(names) == 100 and len(set(names)) == 100
    numbers = sorted(int(n.rsplit("-", 1)[1]) for n in names)
    assert numbers == list(range(100))


def test_get_children_include_data(zk):
    zk.create("/kids")
    for name in ("b", "a", "c"):
        zk.create("/kids/" + name, name.encode())
    children, stat = zk.get_children("/kids", include_data=True)
    assert sorted(children) == ["a", "b", "c"]
    assert stat.numChildren == 3
    assert stat.children_count == 3
    assert stat == zk.exists("/kids")
    with pytest.raises(NoNodeError):
        zk.get_children("/nokids", include_data=True)


# --- transactions ---------------------------------------------------------------------------


def test_transaction_commit(zk):
    zk.create("/t")
    zk.create("/t/old", b"old")
    zk.create("/t/gone")
    tx = zk.transaction()
    tx.create("/t/new", b"new")
    tx.create("/t/new/seq-", b"s", sequence=True)
    tx.set_data("/t/old", b"updated", version=0)
    tx.check("/t/old", 1)  # sees the set_data above, in order
    tx.delete("/t/gone")
    results = tx.commit()
    assert results[0] == "/t/new"
    assert results[1] == "/t/new/seq-0000000000"
    assert results[2].version == 1
    assert results[3] is True
    assert results[4] is True
    assert zk.get("/t/old")[0] == b"updated"
    assert zk.get("/t/new/seq-0000000000")[0] == b"s"
    assert zk.exists("/t/gone") is None


def test_transaction_failure_rolls_back_everything(zk):
    zk.create("/tf", b"v0")
    before = zk.exists("/tf")
    tx = zk.transaction()
    tx.create("/tf/a", b"a")
    tx.set_data("/tf", b"v1")
    tx.check("/tf", 7)  # wrong version: the whole transaction fails
    tx.create("/tf/b")
    results = tx.commit()
    assert len(results) == 4
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], RolledBackError)
    assert isinstance(results[2], BadVersionError)
    # Operations after the failing one are reported as RUNTIMEINCONSISTENCY by ZooKeeper.
    assert isinstance(results[3], RuntimeInconsistency)
    assert zk.get_children("/tf") == []
    data, stat = zk.get("/tf")
    assert data == b"v0" and stat.version == 0 and stat.mzxid == before.mzxid

    # A failing create (node exists) and a failing delete (no node) also roll back.
    tx = zk.transaction()
    tx.create("/tf/c")
    tx.create("/tf/c")
    results = tx.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], NodeExistsError)
    assert zk.exists("/tf/c") is None

    tx = zk.transaction()
    tx.create("/tf/d")
    tx.delete("/tf/nope")
    results = tx.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], NoNodeError)
    assert zk.exists("/tf/d") is None


# --- ACLs -----------------------------------------------------------------------------------


def test_digest_acl_and_add_auth(make_client):
    admin = make_client()
    acl = make_digest_acl("alice", "secret", all=True)
    admin.create("/secret", b"classified", acl=[acl])

    stranger = make_client()
    with pytest.raises(NoAuthError):
        stranger.get("/secret")
    with pytest.raises(NoAuthError):
        stranger.set("/secret", b"hacked")
    with pytest.raises(NoAuthError):
        stranger.create("/secret/child")
    # exists on an existing node needs READ since ZooKeeper 3.9 (none before); getACL needs
    # READ or ADMIN (ZooKeeper >= 3.6).
    if stranger.server_version() >= (3, 9):
        with pytest.raises(NoAuthError):
            stranger.exists("/secret")
    else:
        assert stranger.exists("/secret") is not None
    assert stranger.exists("/secret/missing") is None
    with pytest.raises(NoAuthError):
        stranger.get_acls("/secret")

    wrong = make_client()
    wrong.add_auth("digest", "alice:wrong")
    with pytest.raises(NoAuthError):
        wrong.get("/secret")

    alice = make_client()
    alice.add_auth("digest", "alice:secret")
    assert alice.get("/secret")[0] == b"classified"
    alice.set("/secret", b"updated")
    acls, _ = alice.get_acls("/secret")
    assert acls == [acl] and acls[0].id.id.startswith("alice:")
    alice.create("/secret/child", b"c")  # inherits nothing: OPEN by default
    assert stranger.get("/secret/child")[0] == b"c"

    # auth_data given at construction works like add_auth.
    alice2 = make_client(auth_data=[("digest", "alice:secret")])
    assert alice2.get("/secret")[0] == b"updated"


def test_world_read_only_acl(make_client):
    owner = make_client(auth_data=[("digest", "bob:pw")])
    acls = [
        make_digest_acl("bob", "pw", all=True),
        make_acl("world", "anyone", read=True),
    ]
    owner.create("/ro", b"public", acl=acls)
    reader = make_client()
    assert reader.get("/ro")[0] == b"public"
    with pytest.raises(NoAuthError):
        reader.set("/ro", b"no")
    with pytest.raises(NoAuthError):
        reader.create("/ro/child")
    with pytest.raises(NoAuthError):
        reader.set_acls("/ro", OPEN_ACL_UNSAFE)
    # READ allows getACL, but without ADMIN the digest hashes are masked.
    seen, _ = reader.get_acls("/ro")
    assert ACL(Permissions.READ, Id("world", "anyone")) in seen
    assert ACL(Permissions.ALL, Id("digest", "bob:x")) in seen
    assert owner.get_acls("/ro")[0] == acls


def test_delete_permission_is_checked_on_the_parent(make_client):
    owner = make_client(auth_data=[("digest", "carol:pw")])
    owner.create(
        "/parent",
        acl=[make_digest_acl("carol", "pw", all=True), make_acl("world", "anyone", read=True)],
    )
    owner.create("/parent/child", acl=OPEN_ACL_UNSAFE)
    other = make_client()
    with pytest.raises(NoAuthError):
        other.delete("/parent/child")
    other.set("/parent/child", b"open node is writable")
    owner.delete("/parent/child")

    # The node's own ACL does not protect it from deletion when its parent allows it.
    owner.create("/open", acl=OPEN_ACL_UNSAFE)
    owner.create("/open/locked", acl=[make_digest_acl("carol", "pw", all=True)])
    other.delete("/open/locked")
    assert owner.exists("/open/locked") is None


def test_set_acls_with_version(make_client):
    zk = make_client()
    zk.create("/acl", b"x")
    acls, stat = zk.get_acls("/acl")
    assert acls == OPEN_ACL_UNSAFE and stat.aversion == 0
    with pytest.raises(BadVersionError):
        zk.set_acls("/acl", READ_ACL_UNSAFE, version=3)
    stat = zk.set_acls("/acl", READ_ACL_UNSAFE, version=0)
    assert stat.aversion == 1 and stat.version == 0
    # Without ADMIN permission the ACL can no longer be changed.
    with pytest.raises(NoAuthError):
        zk.set_acls("/acl", OPEN_ACL_UNSAFE, version=1)
    with pytest.raises(NoAuthError):
        zk.set("/acl", b"y")
    assert zk.get_acls("/acl")[0] == [ACL(Permissions.READ, Id("world", "anyone"))]


# --- watches --------------------------------------------------------------------------------


def test_exists_watch_sees_create_change_delete(make_client):
    watcher = make_client()
    writer = make_client()
    events = EventLog()

    assert watcher.exists("/w", watch=events.append) is None
    writer.create("/w", b"1")
    ev = events.wait_len(1)[0]
    assert ev.type == EventType.CREATED and ev.path == "/w"

    assert watcher.exists("/w", watch=events.append) is not None
    writer.set("/w", b"2")
    ev = events.wait_len(2)[1]
    assert ev.type == EventType.CHANGED and ev.path == "/w"

    assert watcher.exists("/w", watch=events.append) is not None
    writer.delete("/w")
    ev = events.wait_len(3)[2]
    assert ev.type == EventType.DELETED and ev.path == "/w"

    # Watches are one-shot: further changes without a new watch send nothing.
    writer.create("/w", b"3")
    writer.set("/w", b"4")
    # An event triggered by those writes reaches the watcher before the answer to a later
    # request (ZooKeeper's ordering guarantee), and kazoo runs callbacks in order.
    watcher.sync("/w")
    watcher.get("/w")
    flush_callbacks(watcher)
    assert len(events) == 3, events.items()


def test_data_and_child_watches_fire_on_parent_delete(make_client):
    watcher = make_client()
    writer = make_client()
    writer.create("/pd")
    data_events, child_events = EventLog(), EventLog()
    watcher.get("/pd", watch=data_events.append)
    watcher.get_children("/pd", watch=child_events.append)
    writer.create("/pd/kid")
    ev = child_events.wait_len(1)[0]
    assert ev.type == EventType.CHILD and ev.path == "/pd"
    watcher.get_children("/pd", watch=child_events.append)
    writer.delete("/pd/kid")
    writer.delete("/pd")
    child_events.wait_len(2)
    data_events.wait_len(1)
    assert child_events.items()[1].type == EventType.CHILD
    assert [e.type for e in data_events.items()] == [EventType.DELETED]


def test_watch_event_arrives_before_the_new_data(make_client):
    """A client that has a watch sees the event before it can read the value that fired it."""
    watcher = make_client()
    writer = make_client()
    writer.create("/order", b"0")
    for i in range(1, 21):
        fired = threading.Event()
        watcher.get("/order", watch=lambda ev: fired.set())
        writer.set("/order", str(i).encode())
        # Busy-read until the new value shows; the watch must have fired by then.
        wait_until(lambda: watcher.get("/order")[0] == str(i).encode(), timeout=10)
        flush_callbacks(watcher)
        assert fired.is_set(), f"round {i}: new data read before the watch event"


# --- sessions -------------------------------------------------------------------------------


def test_session_state_listener_and_close(make_client):
    zk = make_client()
    states = EventLog()
    zk.add_listener(states.append)
    assert zk.state == KazooState.CONNECTED
    assert zk.connected
    session_id, password = zk.client_id
    assert session_id != 0 and len(password) == 16
    zk.stop()
    states.wait_for(lambda s: KazooState.LOST in s)


def test_session_survives_a_short_disconnection(corral_server, chroot, make_client):
    make_client()  # creates the chroot
    proxy = TcpProxy(corral_server)
    client = KazooClient(hosts=proxy.address + chroot, timeout=4.0)
    observer = make_client()
    try:
        client.start(timeout=15)
        states = EventLog()
        client.add_listener(states.append)
        session_id = client.client_id[0]
        client.create("/keep", ephemeral=True)
        proxy.block()
        states.wait_for(lambda s: KazooState.SUSPENDED in s, timeout=10)
        proxy.unblock()
        states.wait_for(lambda s: s and s[-1] == KazooState.CONNECTED, timeout=15)
        assert KazooState.LOST not in states.items()
        assert client.client_id[0] == session_id
        assert observer.exists("/keep").ephemeralOwner == session_id
        client.create("/after")  # the resumed session works
    finally:
        client.stop()
        client.close()
        proxy.close()


def test_session_expiry_deletes_ephemerals_and_client_sees_lost(corral_server, chroot, make_client):
    observer = make_client()  # creates the chroot
    proxy = TcpProxy(corral_server)
    client = KazooClient(hosts=proxy.address + chroot, timeout=1.0)
    try:
        client.start(timeout=15)
        states = EventLog()
        client.add_listener(states.append)
        session_id = client.client_id[0]
        client.create("/ephemeral", b"x", ephemeral=True)
        gone = threading.Event()
        observer.exists("/ephemeral", watch=lambda ev: ev.type == EventType.DELETED and gone.set())

        proxy.block()
        # The server alone notices the silence and expires the session (a few ticks late at most).
        assert gone.wait(10), "the server did not expire a silent session within 10 s"
        assert observer.exists("/ephemeral") is None
        proxy.unblock()
        states.wait_for(lambda s: KazooState.LOST in s, timeout=15)
        # kazoo starts a new session by itself after LOST.
        wait_until(lambda: client.connected, timeout=15)
        assert client.client_id[0] != session_id
        assert client.exists("/ephemeral") is None
    finally:
        client.stop()
        client.close()
        proxy.close()


def test_session_taken_over_and_closed_by_another_connection(corral_server, chroot, make_client):
    """A second connection may resume a session with its id and password; closing it there
    ends the session for the first client too (it sees LOST and starts a new session)."""
    observer = make_client()  # creates the chroot
    proxy = TcpProxy(corral_server)
    first = KazooClient(hosts=proxy.address + chroot, timeout=10.0)
    try:
        first.start(timeout=15)
        states = EventLog()
        first.add_listener(states.append)
        session = first.client_id
        first.create("/e", ephemeral=True)
        proxy.block()  # keep the first client away while the twin holds the session
        states.wait_for(lambda s: KazooState.SUSPENDED in s, timeout=15)

        twin = KazooClient(hosts=corral_server + chroot, client_id=session, timeout=10.0)
        twin.start(timeout=15)
        try:
            assert twin.client_id[0] == session[0]
            assert twin.exists("/e").ephemeralOwner == session[0]
            twin.create("/e2", ephemeral=True)
        finally:
            twin.stop()
            twin.close()
        wait_until(lambda: observer.exists("/e") is None and observer.exists("/e2") is None)

        proxy.unblock()
        states.wait_for(lambda s: KazooState.LOST in s, timeout=15)
        wait_until(lambda: first.connected, timeout=15)
        assert first.client_id[0] != session[0]
    finally:
        first.stop()
        first.close()
        proxy.close()


def test_wrong_session_password_is_rejected(corral_server, chroot, make_client):
    first = make_client()
    session_id, password = first.client_id
    first.create("/mine", ephemeral=True)
    bad = bytes(b ^ 0xFF for b in password)
    intruder = KazooClient(hosts=corral_server + chroot, client_id=(session_id, bad), timeout=10.0)
    states = EventLog()
    intruder.add_listener(states.append)
    try:
        # The server answers as for an expired session; kazoo quietly starts a new session
        # (it reports no LOST: LOST is also its state before the first connection).
        intruder.start(timeout=15)
        wait_until(lambda: intruder.connected, timeout=15)
        assert intruder.client_id[0] != session_id
    finally:
        intruder.stop()
        intruder.close()
    # The real owner keeps its session. (ZooKeeper drops the owner's connection when another
    # one presents its session id, even with a wrong password; kazoo reconnects it.)
    wait_until(lambda: first.connected, timeout=15)
    assert first.client_id[0] == session_id
    assert first.exists("/mine").ephemeralOwner == session_id
    first.create("/still-alive", ephemeral=True)


# --- four-letter words ----------------------------------------------------------------------


def test_command_ruok(zk):
    assert zk.command(b"ruok") == "imok"


def test_server_version(zk):
    version = zk.server_version()
    assert isinstance(version, tuple) and len(version) >= 2
    assert all(isinstance(v, int) for v in version)
    assert version >= (3, 5), version
    srvr = zk.command(b"srvr")
    m = re.search(r"^Zookeeper version: ([\d.]+)", srvr, re.M)
    assert m, srvr
    assert tuple(int(x) for x in m.group(1).split(".")) == version


def test_srvr_and_mntr_report_the_server(zk):
    srvr = zk.command(b"srvr")
    fields = dict(
        line.split(": ", 1) for line in srvr.splitlines() if ": " in line
    )
    assert fields["Mode"] == "standalone"
    assert int(fields["Node count"]) >= 2
    assert int(fields["Zxid"], 16) > 0
    mntr = zk.command(b"mntr")
    values = dict(line.split("\t", 1) for line in mntr.splitlines() if "\t" in line)
    assert values["zk_server_state"] == "standalone"
    assert int(values["zk_znode_count"]) >= 2
    assert int(values["zk_num_alive_connections"]) >= 1


def test_transaction_edge_cases(zk):
    zk.create("/tx")
    assert zk.transaction().commit() == []  # an empty multi is fine

    tx = zk.transaction()
    tx.check("/tx/missing", 0)
    tx.create("/tx/a")
    results = tx.commit()
    assert isinstance(results[0], NoNodeError)
    assert isinstance(results[1], RuntimeInconsistency)

    # Later operations see earlier ones: create a subtree and remove it again, atomically.
    tx = zk.transaction()
    tx.create("/tx/b")
    tx.create("/tx/b/c")
    tx.delete("/tx/b/c")
    tx.delete("/tx/b")
    assert tx.commit() == ["/tx/b", "/tx/b/c", True, True]
    assert zk.get_children("/tx") == []

    # ...including the ephemeral flag of a node created in the same multi.
    tx = zk.transaction()
    tx.create("/tx/e", ephemeral=True)
    tx.create("/tx/e/child")
    results = tx.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], NoChildrenForEphemeralsError)

    # Sequential creates in one multi get consecutive numbers. /tx had one child created so
    # far (/tx/b); the rolled-back multis consumed no number.
    tx = zk.transaction()
    tx.create("/tx/s-", sequence=True)
    tx.create("/tx/s-", sequence=True)
    assert tx.commit() == ["/tx/s-0000000001", "/tx/s-0000000002"]

    tx = zk.transaction()
    tx.delete("/tx")
    assert [type(r) for r in tx.commit()] == [NotEmptyError]


def test_failed_reads_leave_no_watch_behind(make_client):
    """getData/getChildren on a missing node fail and set no watch (only exists does)."""
    watcher, writer = make_client(), make_client()
    events = EventLog()
    with pytest.raises(NoNodeError):
        watcher.get("/later", watch=lambda e: events.append(("get", e.type)))
    with pytest.raises(NoNodeError):
        watcher.get_children("/later", watch=lambda e: events.append(("children", e.type)))
    # kazoo only keeps a callback when the read succeeds, so ask the server what it holds.
    session = "0x%x" % watcher.client_id[0]
    assert watcher.chroot + "/later" not in watcher.command(b"wchp")
    assert not re.search(session + r"\n(\t.*\n)*\t" + re.escape(watcher.chroot + "/later"),
                         watcher.command(b"wchc"))
    writer.create("/later", b"0")
    writer.create("/later/kid")
    writer.set("/later", b"1")
    # A watch set afterwards fires after any event those writes could have caused.
    flushed = threading.Event()
    watcher.exists("/flush", watch=lambda e: flushed.set())
    writer.create("/flush")
    assert flushed.wait(10)
    flush_callbacks(watcher)
    assert events.items() == []


def test_no_watch_is_set_when_the_read_is_refused(make_client):
    owner = make_client(auth_data=[("digest", "fay:pw")])
    owner.create("/guarded", b"0", acl=[make_digest_acl("fay", "pw", all=True)])
    stranger = make_client()
    events = EventLog()
    with pytest.raises(NoAuthError):
        stranger.get("/guarded", watch=events.append)
    with pytest.raises(NoAuthError):
        stranger.get_children("/guarded", watch=events.append)
    if stranger.server_version() >= (3, 9):  # exists needs READ too
        with pytest.raises(NoAuthError):
            stranger.exists("/guarded", watch=events.append)
    assert stranger.chroot + "/guarded" not in stranger.command(b"wchp")
    owner.set("/guarded", b"1")
    owner.create("/guarded/kid")
    flushed = threading.Event()
    stranger.exists("/flush", watch=lambda e: flushed.set())
    owner.create("/flush")
    assert flushed.wait(10)
    flush_callbacks(stranger)
    assert events.items() == []
