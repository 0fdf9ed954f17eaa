"""Reconnection (kazoo's SetWatches), session negotiation, recipes under session loss,
pipelining and larger payloads against corral."""

import threading

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout, NoNodeError
from kazoo.protocol.states import EventType, KazooState

from _util import EventLog, TcpProxy, Worker, raw_connect, raw_session, wait_until


@pytest.fixture
def proxied(corral_server, chroot, make_client):
    """``proxied(timeout)`` -> (client, proxy): a client that reaches the server through a
    TcpProxy the test can cut; closed afterwards."""
    made = []

    def make(timeout=10.0):
        proxy = TcpProxy(corral_server)
        client = KazooClient(hosts=proxy.address + chroot, timeout=timeout)
        made.append((client, proxy))
        client.start(timeout=15)
        return client, proxy

    yield make
    for client, proxy in made:
        try:
            client.stop()
            client.close()
        finally:
            proxy.close()


def cut_until_suspended(proxy, states):
    """Cuts the proxy until the client notices; returns the state log's length before."""
    n = len(states)
    proxy.block()
    states.wait_for(lambda s: KazooState.SUSPENDED in s[n:], timeout=15)
    return n


def test_disconnection_keeps_the_session_and_recipes_catch_up(make_client, proxied):
    """kazoo drops its watches when the connection breaks (it sends no SetWatches); its
    DataWatch and ChildrenWatch re-read on reconnection and must then see what changed."""
    writer = make_client()
    writer.create("/dw", b"0")
    writer.create("/cw")
    client, proxy = proxied(timeout=10.0)
    states = EventLog()
    client.add_listener(states.append)
    session_id = client.client_id[0]
    client.create("/mine", ephemeral=True)

    data_seen, children_seen = EventLog(), EventLog()
    client.DataWatch("/dw", lambda data, stat: data_seen.append((data, stat and stat.version)))
    client.ChildrenWatch("/cw", lambda kids: children_seen.append(sorted(kids)))
    data_seen.wait_len(1)
    children_seen.wait_len(1)

    n = cut_until_suspended(proxy, states)
    writer.set("/dw", b"1")
    writer.set("/dw", b"2")
    writer.create("/cw/a")
    writer.create("/cw/b")
    proxy.unblock()
    states.wait_for(lambda s: KazooState.CONNECTED in s[n:], timeout=15)
    assert client.client_id[0] == session_id
    assert KazooState.LOST not in states.items()

    data_seen.wait_for(lambda items: items[-1] == (b"2", 2))
    children_seen.wait_for(lambda items: items[-1] == ["a", "b"])
    assert writer.exists("/mine").ephemeralOwner == session_id

    # And the re-established watches keep working.
    writer.set("/dw", b"3")
    data_seen.wait_for(lambda items: items[-1] == (b"3", 3))
    writer.delete("/cw/a")
    children_seen.wait_for(lambda items: items[-1] == ["b"])


def test_requests_after_reconnection_see_the_newest_state(make_client, proxied):
    """A client that reconnects (same session) must not read older data than it saw before."""
    writer = make_client()
    writer.create("/fresh", b"0")
    client, proxy = proxied(timeout=10.0)
    states = EventLog()
    client.add_listener(states.append)
    for round_ in range(3):
        writer.set("/fresh", str(round_ + 1).encode())
        client.sync("/fresh")
        seen = client.get("/fresh")
        n = cut_until_suspended(proxy, states)
        proxy.unblock()
        states.wait_for(lambda s: KazooState.CONNECTED in s[n:], timeout=15)
        again = client.get("/fresh")
        assert again[1].mzxid >= seen[1].mzxid
        assert again[0] == str(round_ + 1).encode()


def test_session_timeout_is_negotiated_within_the_server_bounds(corral_server):
    # The server runs with minSessionTimeout=800 and maxSessionTimeout=30000 (conftest).
    assert raw_session(corral_server, 100)[0] == 800
    assert raw_session(corral_server, 800)[0] == 800
    assert raw_session(corral_server, 5000)[0] == 5000
    assert raw_session(corral_server, 600_000)[0] == 30000


def test_closed_session_cannot_be_resumed(corral_server):
    timeout, sid, password = raw_session(corral_server, 5000)  # opened, then closed
    assert timeout == 5000 and sid != 0
    # Resuming a closed session: the server answers with a zero timeout (expired).
    assert raw_session(corral_server, 5000, session_id=sid, passwd=password)[0] == 0


def test_open_session_can_be_resumed_with_its_password_only(corral_server):
    timeout, sid, password = raw_session(corral_server, 5000, close=False)
    try:
        wrong = bytes(b ^ 1 for b in password)
        assert raw_session(corral_server, 5000, session_id=sid, passwd=wrong, close=False)[0] == 0
        negotiated, sid2, password2 = raw_session(
            corral_server, 5000, session_id=sid, passwd=password, close=False
        )
        assert (negotiated, sid2, password2) == (5000, sid, password)
    finally:
        raw_session(corral_server, 5000, session_id=sid, passwd=password)  # close it


def test_silent_connection_is_closed_when_its_session_expires(corral_server):
    """A client that stays connected but sends nothing (not even pings) loses its session, and
    the server closes the connection."""
    import socket
    import time

    sock, negotiated, sid, _ = raw_connect(corral_server, 800)
    with sock:
        assert negotiated == 800 and sid != 0
        sock.settimeout(10)
        started = time.monotonic()
        try:
            data = sock.recv(100)
        except socket.timeout:
            pytest.fail("the connection of a silent session is still open after 10 s")
        except ConnectionResetError:
            data = b""
        assert data == b""
        assert time.monotonic() - started < 5
    # And the session is gone for good.
    assert raw_session(corral_server, 800, session_id=sid, passwd=b"\0" * 16)[0] == 0


def test_session_expires_while_its_connection_hangs_open(make_client, proxied):
    """A partition without resets: the client's TCP connection stays open but nothing flows."""
    client, proxy = proxied(timeout=1.0)
    states = EventLog()
    client.add_listener(states.append)
    client.create("/hung", ephemeral=True)
    observer = make_client()
    gone = threading.Event()
    observer.exists("/hung", watch=lambda e: e.type == EventType.DELETED and gone.set())
    proxy.freeze()
    assert gone.wait(10), "the server kept a silent session alive"
    proxy.thaw()
    states.wait_for(lambda s: KazooState.LOST in s, timeout=15)


def test_lock_holder_session_expiry_frees_the_lock(make_client, proxied):
    holder, proxy = proxied(timeout=1.0)
    states = EventLog()
    holder.add_listener(states.append)
    lock = holder.Lock("/expiring-lock", identifier="holder")
    assert lock.acquire(timeout=5)
    waiter = make_client().Lock("/expiring-lock", identifier="waiter")
    with pytest.raises(LockTimeout):
        waiter.acquire(timeout=0.3)
    w = Worker(lambda: waiter.acquire(timeout=20))
    w.start()
    proxy.block()
    # The server expires the silent holder; the waiter gets the lock.
    assert w.result(timeout=15) is True
    assert waiter.contenders() == ["waiter"]
    proxy.unblock()
    states.wait_for(lambda s: KazooState.LOST in s, timeout=15)
    waiter.release()


def test_party_member_session_expiry_removes_it(make_client, proxied):
    member, proxy = proxied(timeout=1.0)
    member.Party("/expiry-party", "doomed").join()
    observer = make_client()
    view = observer.Party("/expiry-party")
    stayer = make_client().Party("/expiry-party", "stayer")
    stayer.join()
    assert sorted(view) == ["doomed", "stayer"]
    proxy.block()
    wait_until(lambda: list(view) == ["stayer"], timeout=15)


def test_async_requests_are_answered_in_order(zk):
    zk.create("/pipe")
    n = 300
    creates = [zk.create_async(f"/pipe/n{i:04d}", str(i).encode()) for i in range(n)]
    assert [r.get(timeout=30) for r in creates] == [f"/pipe/n{i:04d}" for i in range(n)]
    order = []
    lock = threading.Lock()
    gets = []
    for i in range(n):
        r = zk.get_async(f"/pipe/n{i:04d}")
        r.rawlink(lambda res, i=i: (lock.acquire(), order.append(i), lock.release()))
        gets.append(r)
    values = [r.get(timeout=30)[0] for r in gets]
    assert values == [str(i).encode() for i in range(n)]
    wait_until(lambda: len(order) == n)
    # Mixed reads and writes on one connection are answered in request order too.
    mixed = []
    for i in range(50):
        mixed.append(zk.set_async("/pipe/n0000", str(i).encode()))
        mixed.append(zk.get_async("/pipe/n0000"))
    for i in range(50):
        stat = mixed[2 * i].get(timeout=30)
        data, stat2 = mixed[2 * i + 1].get(timeout=30)
        assert stat.version == i + 1
        assert data == str(i).encode() and stat2.version == i + 1
    missing = zk.get_async("/pipe/none")
    with pytest.raises(NoNodeError):
        missing.get(timeout=10)


def test_many_children_and_recursive_delete(zk):
    zk.create("/many")
    n = 2000
    tx_size = 200
    for start in range(0, n, tx_size):
        tx = zk.transaction()
        for i in range(start, start + tx_size):
            tx.create(f"/many/child-with-a-longish-name-{i:05d}", b"x" * 10)
        assert all(isinstance(r, str) for r in tx.commit())
    children = zk.get_children("/many")
    assert len(children) == n
    assert sorted(children) == [f"child-with-a-longish-name-{i:05d}" for i in range(n)]
    assert zk.exists("/many").numChildren == n
    zk.delete("/many", recursive=True)
    assert zk.exists("/many") is None


def test_many_clients_at_once(make_client):
    clients = [make_client() for _ in range(30)]
    ids = {c.client_id[0] for c in clients}
    assert len(ids) == 30
    for i, c in enumerate(clients):
        c.create(f"/c{i}", ephemeral=True)
    assert len(clients[0].get_children("/")) == 30
    for c in clients[10:]:
        c.stop()
    wait_until(lambda: len(clients[0].get_children("/")) == 10)


def test_writes_are_visible_to_other_clients_after_sync(make_client):
    a, b = make_client(), make_client()
    for i in range(20):
        a.create(f"/v{i}", str(i).encode())
        b.sync(f"/v{i}")
        assert b.get(f"/v{i}")[0] == str(i).encode()


def test_multi_triggers_watches(make_client):
    watcher, writer = make_client(), make_client()
    writer.create("/m")
    writer.create("/m/old", b"0")
    events = EventLog()
    watcher.exists("/m/new", watch=events.append)
    watcher.get("/m/old", watch=events.append)
    watcher.get_children("/m", watch=events.append)
    tx = writer.transaction()
    tx.create("/m/new")
    tx.set_data("/m/old", b"1")
    results = tx.commit()
    assert results[0] == "/m/new"
    got = events.wait_len(3, timeout=10)
    assert sorted((e.path, e.type) for e in got) == sorted(
        [
            ("/m/new", EventType.CREATED),
            ("/m/old", EventType.CHANGED),
            ("/m", EventType.CHILD),
        ]
    )


def test_failed_multi_triggers_no_watches(make_client):
    watcher, writer = make_client(), make_client()
    writer.create("/fm", b"0")
    events = EventLog()
    watcher.get("/fm", watch=events.append)
    watcher.get_children("/fm", watch=events.append)
    tx = writer.transaction()
    tx.set_data("/fm", b"1")
    tx.create("/fm/kid")
    tx.check("/fm", 42)
    tx.commit()
    # A later change fires the data watch; the failed multi must not have fired anything.
    writer.set("/fm", b"2")
    events.wait_len(1, timeout=10)
    writer.create("/fm/zzz")
    events.wait_len(2, timeout=10)
    got = events.items()
    assert [(e.path, e.type) for e in got] == [("/fm", EventType.CHANGED), ("/fm", EventType.CHILD)]
    assert watcher.get("/fm")[0] == b"2"


def test_authentication_is_restored_after_reconnecting(corral_server, chroot, make_client):
    """Auth belongs to the connection: kazoo re-sends it after reconnecting, before anything
    else, and the server must honour it for the resumed session."""
    from kazoo.security import make_digest_acl

    owner = make_client(auth_data=[("digest", "eve:pw")])
    owner.create("/private", b"p", acl=[make_digest_acl("eve", "pw", all=True)])
    proxy = TcpProxy(corral_server)
    client = KazooClient(hosts=proxy.address + chroot, timeout=10.0)
    try:
        client.start(timeout=15)
        client.add_auth("digest", "eve:pw")
        assert client.get("/private")[0] == b"p"
        states = EventLog()
        client.add_listener(states.append)
        session_id = client.client_id[0]
        n = cut_until_suspended(proxy, states)
        proxy.unblock()
        states.wait_for(lambda s: KazooState.CONNECTED in s[n:], timeout=15)
        assert client.client_id[0] == session_id
        assert client.get("/private")[0] == b"p"
        client.set("/private", b"q")
    finally:
        client.stop()
        client.close()
        proxy.close()
