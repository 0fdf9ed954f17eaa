"""Kazoo clients across a corral restart (a server of the test's own, see ``private_corral``)."""

import threading

import pytest

from kazoo.client import KazooClient
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import make_digest_acl

from _util import EventLog, wait_until

def started_client(hostport, **kwargs):
    kwargs.setdefault("timeout", 10.0)
    # Reconnect quickly while the server is down.
    kwargs.setdefault("connection_retry", {"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
    client = KazooClient(hosts=hostport, **kwargs)
    client.start(timeout=15)
    return client


def test_data_survives_a_clean_restart(private_corral):
    hostport = private_corral.start()
    zk = started_client(hostport)
    try:
        zk.create("/app/config", b"v1", makepath=True)
        zk.set("/app/config", b"v2")
        for _ in range(3):
            zk.create("/app/jobs/job-", b"j", sequence=True, makepath=True)
        zk.delete("/app/jobs/job-0000000001")
        zk.create("/app/secret", b"s", acl=[make_digest_acl("u", "p", all=True)])
        tx = zk.transaction()
        tx.create("/app/tx1", b"a")
        tx.create("/app/tx2", b"b")
        tx.commit()
        before = {p: zk.exists(p) for p in ("/app", "/app/config", "/app/jobs", "/app/tx2")}
        last_zxid = zk.last_zxid
    finally:
        zk.stop()
        zk.close()

    private_corral.stop()
    private_corral.start()

    zk = started_client(hostport, auth_data=[("digest", "u:p")])
    try:
        assert zk.get("/app/config")[0] == b"v2"
        assert sorted(zk.get_children("/app/jobs")) == ["job-0000000000", "job-0000000002"]
        assert zk.get("/app/secret")[0] == b"s"
        assert zk.get_acls("/app/secret")[0] == [make_digest_acl("u", "p", all=True)]
        assert zk.get("/app/tx1")[0] == b"a"
        for path, stat in before.items():
            assert zk.exists(path) == stat, path
        # Sequence numbers and zxids carry on from where they were.
        assert zk.create("/app/jobs/job-", sequence=True) == "/app/jobs/job-0000000003"
        assert zk.exists("/app/jobs/job-0000000003").czxid > last_zxid
    finally:
        zk.stop()
        zk.close()


def test_acknowledged_writes_survive_a_crash(private_corral):
    hostport = private_corral.start()
    zk = started_client(hostport)
    try:
        zk.create("/crash")
        results = [zk.create_async(f"/crash/n{i:03d}", str(i).encode()) for i in range(200)]
        for r in results:
            r.get(timeout=30)
        zk.set("/crash", b"done")
    finally:
        zk.stop()
        zk.close()
    private_corral.kill()  # SIGKILL: no chance to flush anything more
    private_corral.start()
    zk = started_client(hostport)
    try:
        assert zk.get("/crash")[0] == b"done"
        children = zk.get_children("/crash")
        assert sorted(children) == [f"n{i:03d}" for i in range(200)]
        assert zk.get("/crash/n199")[0] == b"199"
    finally:
        zk.stop()
        zk.close()


def test_session_and_ephemerals_survive_a_restart(private_corral):
    """As in ZooKeeper, sessions are part of the replicated state: a client that reconnects
    within its timeout keeps its session and ephemeral nodes."""
    hostport = private_corral.start()
    zk = started_client(hostport, timeout=10.0)
    observer = None
    try:
        states = EventLog()
        zk.add_listener(states.append)
        session_id = zk.client_id[0]
        zk.create("/eph", b"x", ephemeral=True)
        private_corral.stop()
        states.wait_for(lambda s: KazooState.SUSPENDED in s, timeout=10)
        private_corral.start()
        # A fresh client (it has seen no zxid, so any server takes it) looks first.
        observer = started_client(hostport)
        stat = observer.exists("/eph")
        assert stat is not None and stat.ephemeralOwner == session_id
        states.wait_for(lambda s: s[-1] == KazooState.CONNECTED, timeout=15)
        assert KazooState.LOST not in states.items()
        assert zk.client_id[0] == session_id
        gone = threading.Event()
        observer.exists("/eph", watch=lambda e: e.type == EventType.DELETED and gone.set())
        zk.stop()  # closing the session deletes its ephemeral node
        assert gone.wait(10)
    finally:
        zk.stop()
        zk.close()
        if observer:
            observer.stop()
            observer.close()


def test_sessions_of_absent_clients_expire_after_a_restart(private_corral):
    hostport = private_corral.start()
    zk = started_client(hostport, timeout=1.0)
    zk.create("/orphan", ephemeral=True)
    session_id = zk.client_id[0]
    private_corral.stop()
    # The client goes away while the server is down (without closing its session).
    zk.stop()
    zk.close()
    private_corral.start()
    observer = started_client(hostport)
    try:
        stat = observer.exists("/orphan")
        assert stat is None or stat.ephemeralOwner == session_id
        # The restored session has ~1 s left; the server must expire it by itself.
        wait_until(lambda: observer.exists("/orphan") is None, timeout=10)
    finally:
        observer.stop()
        observer.close()


def test_sigterm_stops_the_server_promptly_and_cleanly(private_corral):
    import time

    hostport = private_corral.start()
    zk = started_client(hostport)
    try:
        zk.create("/busy", b"x")
        started = time.monotonic()
        status = private_corral.stop()
        assert time.monotonic() - started < 5
        assert status == 0, f"exit status {status} after SIGTERM"
    finally:
        zk.stop()
        zk.close()
