"""Kazoo against a three-server Corral ensemble (real processes on 127.0.0.1, zoo.cfg with
``server.N`` lines and ``myid``), as kazoo users run it against a ZooKeeper ensemble: a client
given every server keeps its session when the server it uses dies (leader or follower),
watches set on one server fire for writes made through another, recipes work with their
clients spread over the servers, and a dead client's session expires on the leader's clock.
"""

import multiprocessing
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from _util import wait_until
from conftest import (
    MAX_SESSION_TIMEOUT_MS,
    MIN_SESSION_TIMEOUT_MS,
    TICK_MS,
    CorralProcess,
    _free_port,
    corral_binary,
    four_letter,
)

SERVERS = 3
# kazoo's own bar (test_update_host_list): CONNECTED again within 5 s after a server stops.
RECONNECT_WITHIN_S = 5.0


class EnsembleMember(CorralProcess):
    """A `corral server` whose zoo.cfg names every member of the ensemble."""

    def __init__(self, binary, base, my_id, ports, extra=()):
        super().__init__(binary, base)
        self.my_id = my_id
        self.ports = ports  # {id: (client, quorum, election)}
        self.extra = list(extra)
        self.port = ports[my_id][0]
        (self.data_dir / "myid").write_text(f"{my_id}\n")

    def _write_config(self):
        lines = [
            f"tickTime={TICK_MS}",
            "initLimit=10",
            "syncLimit=5",
            f"dataDir={self.data_dir}",
            f"clientPort={self.port}",
            "clientPortAddress=127.0.0.1",
            "maxClientCnxns=0",
            f"minSessionTimeout={MIN_SESSION_TIMEOUT_MS}",
            f"maxSessionTimeout={MAX_SESSION_TIMEOUT_MS}",
            "4lw.commands.whitelist=*",
            "admin.enableServer=false",
        ] + self.extra
        for sid, (_, quorum, election) in sorted(self.ports.items()):
            lines.append(f"server.{sid}=127.0.0.1:{quorum}:{election}")
        self.cfg_path.write_text("\n".join(lines) + "\n")


def mode(member):
    try:
        for line in four_letter(member.hostport, b"srvr", timeout=1.0).splitlines():
            if line.startswith("Mode: "):
                return line[len("Mode: "):]
    except OSError:
        pass
    return None


class Ensemble:
    def __init__(self, tmp_path, extra=()):
        binary = corral_binary()
        ports = {sid: (_free_port(), _free_port(), _free_port()) for sid in range(1, SERVERS + 1)}
        self.members = {
            sid: EnsembleMember(binary, tmp_path / f"server-{sid}", sid, ports, extra)
            for sid in ports
        }
        self.down = set()

    def start(self):
        for member in self.members.values():
            member.start()
        self.wait_for_leader()

    def stop(self):
        for member in self.members.values():
            member.stop()

    @property
    def hosts(self):
        return ",".join(m.hostport for m in self.members.values())

    def leader(self):
        for sid, member in self.members.items():
            if sid not in self.down and mode(member) == "leader":
                return sid
        return None

    def wait_for_leader(self, timeout=30.0):
        def settled():
            modes = [mode(m) for s, m in self.members.items() if s not in self.down]
            return modes.count("leader") == 1 and modes.count("follower") == len(modes) - 1

        wait_until(settled, timeout=timeout, message="one leader and the others following")
        return self.leader()

    def kill(self, sid):
        self.members[sid].kill()
        self.down.add(sid)

    def restart(self, sid):
        self.members[sid].start()
        self.down.discard(sid)


@pytest.fixture
def ensemble(tmp_path):
    cluster = Ensemble(tmp_path)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def client(hosts, **kwargs):
    kwargs.setdefault("timeout", 10.0)
    kwargs.setdefault("connection_retry", {"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
    zk = KazooClient(hosts=hosts, **kwargs)
    zk.start(timeout=15)
    return zk


def connected_server(zk, ensemble):
    """The member a kazoo client is connected to."""
    host, port = zk._connection._socket.getpeername()[:2]
    for sid, member in ensemble.members.items():
        if member.port == port:
            return sid
    raise AssertionError(f"client connected to unknown {host}:{port}")


def states(zk):
    seen = []
    zk.add_listener(lambda state: seen.append(state))
    return seen


@pytest.mark.parametrize("victim", ["leader", "follower"])
def test_a_client_keeps_its_session_and_ephemerals_when_its_server_dies(ensemble, victim):
    leader = ensemble.leader()
    others = [sid for sid in ensemble.members if sid != leader]
    target = leader if victim == "leader" else others[0]
    # Connect to the victim first so that its death is what the client lives through.
    hosts = ",".join(
        [ensemble.members[target].hostport]
        + [m.hostport for s, m in ensemble.members.items() if s != target]
    )
    zk = client(hosts, randomize_hosts=False)
    observer = client(ensemble.hosts)
    try:
        assert connected_server(zk, ensemble) == target
        session = zk.client_id
        zk.create("/mine", b"eph", ephemeral=True)
        zk.create("/data", b"v1")
        seen = states(zk)
        ensemble.kill(target)
        wait_until(lambda: KazooState.SUSPENDED in seen, timeout=10, message="client notices")
        started = time.monotonic()
        wait_until(
            lambda: zk.state == KazooState.CONNECTED,
            timeout=RECONNECT_WITHIN_S + 10,
            message="client reconnects to another server",
        )
        took = time.monotonic() - started
        assert took <= RECONNECT_WITHIN_S, f"reconnected after {took:.1f}s"
        assert zk.client_id == session, "same session after the move"
        assert KazooState.LOST not in seen
        # As with ZooKeeper, a request in flight while the server the client uses changes
        # state fails with ConnectionLoss; kazoo applications retry those (KazooRetry).
        ensemble.wait_for_leader()
        assert zk.retry(zk.get, "/mine")[0] == b"eph"
        zk.retry(zk.set, "/data", b"v2")
        observer.retry(observer.sync, "/data")
        assert observer.retry(observer.get, "/data")[0] == b"v2"
        assert observer.retry(observer.exists, "/mine") is not None, "a live session's ephemeral survives"
        ensemble.restart(target)
        ensemble.wait_for_leader()
    finally:
        for c in (zk, observer):
            c.stop()
            c.close()


def test_a_watch_set_on_one_server_fires_for_a_write_through_another(ensemble):
    members = list(ensemble.members.values())
    watcher = client(members[0].hostport)
    writer = client(members[1].hostport)
    try:
        fired = threading.Event()
        events = []

        def on_change(event):
            events.append(event)
            fired.set()

        watcher.create("/watched", b"0")
        watcher.get("/watched", watch=on_change)
        writer.set("/watched", b"1")
        assert fired.wait(10), "watch fired"
        assert [e.type for e in events] == ["CHANGED"]
        assert watcher.get("/watched")[0] == b"1", "read after the event sees the write"
    finally:
        for c in (watcher, writer):
            c.stop()
            c.close()


def test_lock_and_election_with_clients_on_every_server(ensemble):
    clients = [client(m.hostport) for m in ensemble.members.values()]
    try:
        holders = []
        inside = []
        lock_guard = threading.Lock()

        def contend(zk, name):
            lock = zk.Lock("/lock", name)
            for _ in range(5):
                with lock:
                    with lock_guard:
                        inside.append(name)
                        assert len(inside) == 1, f"two holders at once: {inside}"
                    time.sleep(0.01)
                    with lock_guard:
                        inside.remove(name)
                        holders.append(name)

        threads = [
            threading.Thread(target=contend, args=(zk, f"c{i}")) for i, zk in enumerate(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(holders) == sorted([f"c{i}" for i in range(len(clients))] * 5)

        elected = []
        election = clients[1].Election("/election", "candidate-1")
        done = threading.Event()

        def lead():
            elected.append("candidate-1")
            done.set()

        t = threading.Thread(target=election.run, args=(lead,))
        t.start()
        assert done.wait(10)
        t.join(10)
        assert elected == ["candidate-1"]
    finally:
        for c in clients:
            c.stop()
            c.close()


def _die_with_an_ephemeral(hosts, path, ready):
    zk = KazooClient(hosts=hosts, timeout=2.0)
    zk.start(timeout=15)
    zk.create(path, b"x", ephemeral=True, makepath=True)
    ready.set()
    time.sleep(60)  # killed before this ends


def test_a_dead_clients_session_expires_once_and_its_ephemeral_goes(ensemble):
    members = list(ensemble.members.values())
    follower = next(
        m for s, m in ensemble.members.items() if s != ensemble.leader()
    )
    ready = multiprocessing.Event()
    proc = multiprocessing.get_context("fork").Process(
        target=_die_with_an_ephemeral, args=(follower.hostport, "/group/member", ready)
    )
    proc.start()
    watcher = client(members[0].hostport)
    try:
        assert ready.wait(20), "the doomed client created its ephemeral"
        events = []
        gone = threading.Event()

        def on_event(event):
            events.append(event.type)
            gone.set()

        assert watcher.exists("/group/member", watch=on_event) is not None
        proc.kill()  # no closeSession: only expiry removes the ephemeral
        proc.join(10)
        assert gone.wait(20), "the ephemeral of the dead session was deleted"
        assert events == ["DELETED"]
        time.sleep(1.0)
        assert events == ["DELETED"], "deleted exactly once"
        assert watcher.exists("/group/member") is None
    finally:
        if proc.is_alive():
            proc.kill()
        watcher.stop()
        watcher.close()


def test_a_session_reattached_on_another_server_closes_its_stale_connection(ensemble):
    members = list(ensemble.members.values())
    first = client(members[0].hostport)
    seen = states(first)
    session = first.client_id
    second = KazooClient(hosts=members[1].hostport, client_id=session, timeout=10.0)
    second.start(timeout=15)
    try:
        assert second.client_id[0] == session[0], "the same session, re-attached"
        wait_until(
            lambda: KazooState.SUSPENDED in seen,
            timeout=10,
            message="the first server closes the session's stale connection",
        )
    finally:
        for c in (first, second):
            c.stop()
            c.close()


def test_with_linearizable_reads_a_read_anywhere_sees_every_acknowledged_write(tmp_path):
    cluster = Ensemble(tmp_path, extra=["corral.linearizableReads=true"])
    cluster.start()
    leader = cluster.leader()
    writer = client(cluster.members[leader].hostport)
    readers = [client(m.hostport) for s, m in cluster.members.items() if s != leader]
    try:
        writer.create("/counter", b"0")
        for i in range(1, 31):
            writer.set("/counter", str(i).encode())
            for reader in readers:
                # No sync: the server puts the read behind the leader's read index itself.
                assert reader.get("/counter")[0] == str(i).encode()
    finally:
        for c in [writer] + readers:
            c.stop()
            c.close()
        cluster.stop()


def test_a_standalone_data_directory_is_refused_as_an_ensemble_member(tmp_path):
    import subprocess

    standalone = CorralProcess(corral_binary(), tmp_path / "standalone")
    standalone.start()
    zk = client(standalone.hostport)
    zk.create("/written-alone", b"x")
    zk.stop()
    zk.close()
    standalone.stop()
    ports = {sid: (_free_port(), _free_port(), _free_port()) for sid in (1, 2, 3)}
    member = EnsembleMember(corral_binary(), tmp_path / "standalone", 1, ports)
    member._write_config()
    done = subprocess.run(
        [member.binary, "server", "--config", str(member.cfg_path)],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode != 0, "a member on a standalone server's data must not start"
    assert b"belongs to standalone" in done.stderr + done.stdout
