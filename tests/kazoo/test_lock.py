"""kazoo's Lock, ReadLock/WriteLock and Semaphore recipes against corral."""

import threading
import time

import pytest
from kazoo.exceptions import LockTimeout

from _util import EventLog, Worker, results, start_workers, wait_until


class Occupancy:
    """Counts how many holders are inside a critical section at once, and the maximum seen."""

    def __init__(self):
        self._lock = threading.Lock()
        self.current = 0
        self.max = 0
        self.entries = 0

    def __enter__(self):
        with self._lock:
            self.current += 1
            self.entries += 1
            self.max = max(self.max, self.current)

    def __exit__(self, *exc):
        with self._lock:
            self.current -= 1


def test_lock_mutual_exclusion_shared_counter(make_client):
    """N clients do a racy read-modify-write on a znode under the lock: nothing is lost."""
    threads, rounds = 5, 8
    setup = make_client()
    setup.create("/counter", b"0")
    clients = [make_client() for _ in range(threads)]
    inside = Occupancy()

    def work(i):
        client = clients[i]
        lock = client.Lock("/lock", identifier=f"worker-{i}")
        for _ in range(rounds):
            with lock:
                with inside:
                    value = int(client.get("/counter")[0])
                    time.sleep(0.002)  # widen the race window
                    client.set("/counter", str(value + 1).encode())  # no version check
            assert not lock.is_acquired

    results(start_workers(work, threads), timeout=60)
    assert inside.max == 1
    assert inside.entries == threads * rounds
    assert int(setup.get("/counter")[0]) == threads * rounds
    # Every lock node was removed on release.
    assert setup.get_children("/lock") == []


def test_lock_threads_sharing_one_client(zk):
    """Lock objects on one connection exclude each other too (kazoo's usual threaded use)."""
    inside = Occupancy()
    total = [0]

    def work(i):
        lock = zk.Lock("/shared-lock", identifier=f"t{i}")
        for _ in range(5):
            with lock:
                with inside:
                    v = total[0]
                    time.sleep(0.001)
                    total[0] = v + 1

    results(start_workers(work, 4), timeout=60)
    assert inside.max == 1
    assert total[0] == 20


def test_lock_contenders_are_served_in_order(make_client):
    holder = make_client()
    first_lock = holder.Lock("/ordered", identifier="holder")
    assert first_lock.acquire(timeout=5)
    acquired = EventLog()
    waiters = []
    for name in ("second", "third", "fourth"):
        client = make_client()
        lock = client.Lock("/ordered", identifier=name)

        def take(lock=lock, name=name):
            lock.acquire(timeout=30)
            acquired.append(name)
            return lock

        w = Worker(take, name=name)
        w.start()
        waiters.append(w)
        # Wait until this contender has queued before starting the next one.
        expected = ["holder"] + [x.name for x in waiters]
        wait_until(lambda: first_lock.contenders() == expected, timeout=10)

    assert first_lock.contenders() == ["holder", "second", "third", "fourth"]
    assert len(acquired) == 0
    first_lock.release()
    for i, w in enumerate(waiters):
        lock = w.result(timeout=10)
        assert acquired.items() == [x.name for x in waiters[: i + 1]]
        assert lock.is_acquired
        assert lock.contenders()[0] == w.name
        lock.release()
    assert first_lock.contenders() == []


def test_lock_timeout_and_non_blocking(make_client):
    owner = make_client()
    other = make_client()
    held = owner.Lock("/busy", identifier="owner")
    assert held.acquire()
    wanted = other.Lock("/busy", identifier="other")

    started = time.monotonic()
    with pytest.raises(LockTimeout):
        wanted.acquire(timeout=0.5)
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 5, elapsed
    assert not wanted.is_acquired
    # The timed-out contender withdrew its node.
    assert held.contenders() == ["owner"]

    assert wanted.acquire(blocking=False) is False
    assert held.contenders() == ["owner"]

    held.release()
    assert wanted.acquire(blocking=False) is True
    assert held.contenders() == ["other"]
    wanted.release()


def test_lock_cancel_a_blocked_acquire(make_client):
    owner = make_client()
    held = owner.Lock("/cancel", identifier="owner")
    held.acquire()
    waiter = make_client().Lock("/cancel", identifier="waiter")
    w = Worker(lambda: waiter.acquire(timeout=30))
    w.start()
    wait_until(lambda: held.contenders() == ["owner", "waiter"])
    waiter.cancel()
    from kazoo.exceptions import CancelledError

    with pytest.raises(CancelledError):
        w.result(timeout=10)
    wait_until(lambda: held.contenders() == ["owner"])
    held.release()


def test_lock_passes_on_when_the_holder_session_ends(make_client):
    holder_client = make_client()
    holder = holder_client.Lock("/session-lock", identifier="holder")
    holder.acquire()
    waiter = make_client().Lock("/session-lock", identifier="waiter")
    w = Worker(lambda: waiter.acquire(timeout=30))
    w.start()
    wait_until(lambda: waiter.contenders() == ["holder", "waiter"])
    assert w.is_alive()
    holder_client.stop()  # closes the session: its ephemeral lock node goes away
    assert w.result(timeout=10) is True
    assert waiter.is_acquired
    assert waiter.contenders() == ["waiter"]
    waiter.release()


def test_read_write_lock(make_client):
    clients = [make_client() for _ in range(4)]
    readers_inside = Occupancy()
    writer_inside = threading.Event()
    readers_in = threading.Barrier(3, timeout=15)
    release_readers = threading.Event()
    violations = []

    def reader(i):
        lock = clients[i].ReadLock("/rw", identifier=f"reader-{i}")
        with lock:
            with readers_inside:
                if writer_inside.is_set():
                    violations.append(f"reader-{i} with writer inside")
                readers_in.wait()  # all three readers hold the lock at the same time
                assert release_readers.wait(15)

    def writer():
        lock = clients[3].WriteLock("/rw", identifier="writer")
        with lock:
            writer_inside.set()
            if readers_inside.current:
                violations.append(f"writer with {readers_inside.current} readers inside")
            writer_inside.clear()
        return True

    readers = start_workers(reader, 3, name="reader")
    wait_until(lambda: readers_inside.current == 3, timeout=15)
    w = Worker(writer, name="writer")
    w.start()
    probe = clients[3].WriteLock("/rw", identifier="probe")
    wait_until(lambda: "writer" in probe.contenders())
    assert w.is_alive(), "the writer got in while readers held the lock"
    release_readers.set()
    results(readers, timeout=15)
    assert w.result(timeout=15) is True
    assert readers_inside.max == 3
    assert violations == []


def test_semaphore_max_leases_under_contention(make_client):
    threads, max_leases = 6, 2
    clients = [make_client() for _ in range(threads)]
    inside = Occupancy()

    def work(i):
        sem = clients[i].Semaphore("/sem", identifier=f"w{i}", max_leases=max_leases)
        for _ in range(3):
            with sem:
                with inside:
                    holders = sem.lease_holders()
                    assert len(holders) <= max_leases, holders
                    time.sleep(0.02)

    results(start_workers(work, threads), timeout=90)
    assert inside.entries == threads * 3
    assert 1 <= inside.max <= max_leases
    assert clients[0].get_children("/sem") == []
    assert clients[0].get("/sem")[0] == str(max_leases).encode()


def test_semaphore_leases_timeout_and_handover(make_client):
    a, b, c = (make_client() for _ in range(3))
    sa = a.Semaphore("/leases", identifier="a", max_leases=2)
    sb = b.Semaphore("/leases", identifier="b", max_leases=2)
    sc = c.Semaphore("/leases", identifier="c", max_leases=2)
    assert sa.acquire(timeout=5)
    assert sb.acquire(timeout=5)
    assert sorted(sa.lease_holders()) == ["a", "b"]
    assert sc.acquire(blocking=False) is False
    with pytest.raises(LockTimeout):
        sc.acquire(timeout=0.5)
    assert sorted(sa.lease_holders()) == ["a", "b"]

    w = Worker(lambda: sc.acquire(timeout=30))
    w.start()
    time.sleep(0.2)
    assert w.is_alive()
    a.stop()  # a's session ends: its lease is freed for c
    assert w.result(timeout=10) is True
    assert sorted(sb.lease_holders()) == ["b", "c"]
    sb.release()
    sc.release()
    assert sc.lease_holders() == []

    # A different max_leases for the same semaphore is refused.
    with pytest.raises(ValueError):
        b.Semaphore("/leases", max_leases=3).acquire(timeout=1)
