"""Edge cases and contention through kazoo: idle sessions, races on one path, watch fan-out,
odd paths, big values, the /zookeeper subtree."""

import threading
import time

import pytest
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    ConnectionLoss,
    NodeExistsError,
)
from kazoo.protocol.states import EventType, KazooState

from _util import EventLog, results, start_workers, wait_until


def test_idle_session_is_kept_alive_by_pings(make_client):
    """A client that sends nothing but kazoo's pings keeps its session well past its timeout."""
    idle = make_client(timeout=1.0)
    states = EventLog()
    idle.add_listener(states.append)
    idle.create("/idle", ephemeral=True)
    observer = make_client()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert observer.exists("/idle") is not None, "an idle but pinging session was expired"
        time.sleep(0.1)
    assert states.items() == []  # never even suspended
    assert idle.connected


def test_concurrent_creates_of_one_path_exactly_one_wins(make_client):
    clients = [make_client() for _ in range(8)]
    barrier = threading.Barrier(len(clients), timeout=10)

    def create(i):
        barrier.wait()
        try:
            clients[i].create("/contended", str(i).encode())
            return "won"
        except NodeExistsError:
            return "exists"

    outcome = results(start_workers(create, len(clients)))
    assert outcome.count("won") == 1, outcome
    winner = outcome.index("won")
    assert clients[0].get("/contended")[0] == str(winner).encode()


def test_compare_and_set_under_contention(make_client):
    """Versioned sets: each version is won by exactly one writer; none is lost."""
    clients = [make_client() for _ in range(6)]
    clients[0].create("/cas", b"0")
    successes = [0] * len(clients)

    def worker(i):
        c = clients[i]
        for _ in range(10):
            while True:
                data, stat = c.get("/cas")
                try:
                    c.set("/cas", str(int(data) + 1).encode(), version=stat.version)
                    successes[i] += 1
                    break
                except BadVersionError:
                    continue

    results(start_workers(worker, len(clients)), timeout=60)
    data, stat = clients[0].get("/cas")
    assert int(data) == 60 == sum(successes)
    assert stat.version == 60


def test_watch_fan_out_to_many_clients(make_client):
    clients = [make_client() for _ in range(20)]
    writer = clients[0]
    writer.create("/fan", b"0")
    events = EventLog()
    for i, c in enumerate(clients):
        c.get("/fan", watch=lambda e, i=i: events.append((i, e.type, e.path)))
        c.exists("/fan", watch=lambda e, i=i: events.append((i, "exists-" + e.type, e.path)))
    writer.set("/fan", b"1")
    got = events.wait_len(40)
    time.sleep(0.2)
    got = events.items()
    # Every client hears about it, each of its two watchers once.
    assert sorted(got) == sorted(
        [(i, EventType.CHANGED, "/fan") for i in range(20)]
        + [(i, "exists-" + EventType.CHANGED, "/fan") for i in range(20)]
    )


def test_session_expiry_with_many_ephemerals(make_client):
    owner = make_client()
    observer = make_client()
    observer.create("/members")
    for i in range(100):
        owner.create(f"/members/m{i:03d}", ephemeral=True)
    child_events = EventLog()
    observer.get_children("/members", watch=child_events.append)
    owner.stop()
    ev = child_events.wait_len(1)[0]
    assert ev.type == EventType.CHILD
    wait_until(lambda: observer.get_children("/members") == [])
    assert observer.exists("/members").numChildren == 0


def test_ephemeral_sequential_names_and_owner(make_client):
    a, b = make_client(), make_client()
    a.create("/seqeph")
    names = []
    for client in (a, b, a, b):
        names.append(client.create("/seqeph/member-", ephemeral=True, sequence=True))
    assert names == [f"/seqeph/member-{i:010d}" for i in range(4)]
    owners = [a.exists(n).ephemeralOwner for n in names]
    assert owners == [a.client_id[0], b.client_id[0]] * 2
    b.stop()
    wait_until(lambda: sorted(a.get_children("/seqeph")) == ["member-0000000000", "member-0000000002"])


def test_unicode_names_and_data(zk):
    path = "/ünïcødé-名前"
    zk.create(path, "värde".encode("utf-8"))
    assert zk.get(path)[0].decode("utf-8") == "värde"
    assert zk.get_children("/") == ["ünïcødé-名前"]


def test_nul_in_a_path_is_refused(zk):
    # kazoo normalises "//", "." and ".." itself; a NUL character reaches the server.
    with pytest.raises(BadArgumentsError):
        zk.create("/x\u0000y")
    with pytest.raises(BadArgumentsError):
        zk.exists("/x\u0000y")
    assert zk.get_children("/") == []


def test_zookeeper_system_nodes(make_client):
    root = make_client(chroot_path=False)
    assert "zookeeper" in root.get_children("/")
    assert "quota" in root.get_children("/zookeeper")
    assert root.exists("/zookeeper/config") is not None
    with pytest.raises(NodeExistsError):
        root.create("/zookeeper")


def test_values_up_to_the_buffer_limit(zk):
    big = b"z" * 1_000_000
    zk.create("/near-limit", big)
    assert zk.get("/near-limit")[0] == big


def test_a_request_over_the_buffer_limit_drops_only_that_connection(make_client):
    zk = make_client()
    states = EventLog()
    zk.add_listener(states.append)
    session = zk.client_id[0]
    zk.create("/still-here", ephemeral=True)
    with pytest.raises(ConnectionLoss):
        zk.create("/too-big", b"x" * (1024 * 1024 + 10))
    # The session survives: kazoo reconnects to it.
    wait_until(lambda: zk.connected, timeout=15)
    assert zk.client_id[0] == session
    assert zk.exists("/too-big") is None
    assert zk.exists("/still-here") is not None
    assert KazooState.LOST not in states.items()


def test_watchers_converge_under_concurrent_churn(make_client):
    """Writers churn children and data concurrently; every watcher's last view is the truth."""
    import random

    writers = [make_client() for _ in range(4)]
    watcher = make_client()
    writers[0].create("/churn", b"0")
    child_views, data_views = EventLog(), EventLog()
    watcher.ChildrenWatch("/churn", lambda kids: child_views.append(sorted(kids)))
    watcher.DataWatch("/churn", lambda data, stat: data_views.append((data, stat.version)))

    def churn(i):
        rnd = random.Random(i)
        c = writers[i]
        mine = set()
        for step in range(60):
            name = f"/churn/w{i}-{rnd.randrange(8)}"
            if name in mine:
                c.delete(name)
                mine.discard(name)
            else:
                c.create(name)
                mine.add(name)
            if step % 5 == 0:
                c.set("/churn", f"{i}-{step}".encode())

    results(start_workers(churn, len(writers)), timeout=60)
    truth = sorted(writers[0].get_children("/churn"))
    data, stat = writers[0].get("/churn")
    child_views.wait_for(lambda views: views[-1] == truth, timeout=10)
    data_views.wait_for(lambda views: views[-1] == (data, stat.version), timeout=10)
    # Data views only move forward.
    versions = [v for _, v in data_views.items()]
    assert versions == sorted(versions)
