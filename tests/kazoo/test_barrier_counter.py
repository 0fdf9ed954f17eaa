"""kazoo's Barrier, DoubleBarrier and Counter recipes against corral."""

import threading
import time

import pytest

from kazoo.exceptions import NoNodeError

from _util import EventLog, Worker, results, start_workers, wait_until


def child_count(client, path):
    try:
        return len(client.get_children(path))
    except NoNodeError:
        return -1


def test_barrier_blocks_until_removed(make_client):
    n = 4
    owner = make_client()
    barrier = owner.Barrier("/gate")
    barrier.create()
    barrier.create()  # idempotent
    assert owner.exists("/gate") is not None
    # A short wait times out while the barrier stands.
    assert barrier.wait(timeout=0.3) is False

    clients = [make_client() for _ in range(n)]
    started, passed = EventLog(), EventLog()

    def wait(i):
        b = clients[i].Barrier("/gate")
        started.append(i)
        ok = b.wait(timeout=20)
        passed.append(i)
        return ok

    workers = start_workers(wait, n)
    started.wait_len(n)
    time.sleep(0.3)  # give them time to (wrongly) pass
    assert len(passed) == 0, passed.items()
    assert barrier.remove() is True
    assert results(workers, timeout=10) == [True] * n
    assert barrier.remove() is False
    assert barrier.wait(timeout=0.1) is True  # no barrier: passes at once


def test_double_barrier_enter_and_leave_together(make_client):
    n = 4
    clients = [make_client() for _ in range(n)]
    barriers = [
        c.DoubleBarrier("/double", n, identifier=f"member-{i}") for i, c in enumerate(clients)
    ]
    entered, left = EventLog(), EventLog()
    may_leave = [threading.Event() for _ in range(n)]

    def member(i):
        barriers[i].enter()
        entered.append(i)
        assert may_leave[i].wait(20)
        barriers[i].leave()
        left.append(i)

    # n - 1 members arrive: nobody may enter yet.
    workers = [Worker(member, i, name=f"member-{i}") for i in range(n)]
    for w in workers[:-1]:
        w.start()
    wait_until(lambda: child_count(clients[0], "/double") == n - 1)
    time.sleep(0.3)
    assert len(entered) == 0, entered.items()

    # The last one arrives: everyone enters.
    workers[-1].start()
    entered.wait_len(n, timeout=10)
    assert all(b.participating for b in barriers)

    # All but one leave: they wait for the last one.
    for ev in may_leave[:-1]:
        ev.set()
    # The leavers remove their nodes, except the lowest, which waits for the highest.
    holdout = barriers[-1].node_name

    def only_lowest_and_holdout_remain():
        kids = [k for k in clients[0].get_children("/double") if k != "ready"]
        return holdout in kids and len(kids) <= 2 and (len(kids) == 1 or min(kids) != holdout)

    wait_until(only_lowest_and_holdout_remain, timeout=10)
    time.sleep(0.3)
    assert len(left) == 0, f"left before the last member: {left.items()}"
    may_leave[-1].set()
    results(workers, timeout=15)
    assert sorted(left.items()) == list(range(n))
    assert clients[0].get_children("/double") == []
    assert not any(b.participating for b in barriers)


def test_double_barrier_member_session_end_lets_no_one_in_early(make_client):
    """A member that dies before the group is complete no longer counts."""
    n = 3
    clients = [make_client() for _ in range(n + 1)]
    entered = EventLog()

    def member(i):
        clients[i].DoubleBarrier("/double2", n, identifier=f"m{i}").enter()
        entered.append(i)

    w0 = Worker(member, 0)
    w0.start()
    wait_until(lambda: child_count(clients[3], "/double2") == 1)
    clients[0].stop()  # member 0 dies while waiting
    wait_until(lambda: child_count(clients[3], "/double2") == 0)
    w1, w2 = Worker(member, 1), Worker(member, 2)
    w1.start()
    w2.start()
    wait_until(lambda: child_count(clients[3], "/double2") == 2)
    time.sleep(0.3)
    assert 1 not in entered.items() and 2 not in entered.items()
    w3 = Worker(member, 3)
    w3.start()
    entered.wait_for(lambda items: {1, 2, 3} <= set(items), timeout=10)
    results([w1, w2, w3])


def test_counter_concurrent_increments(make_client):
    threads, per_thread = 5, 20
    # Counter retries on a version conflict; keep kazoo's back-off short for the test.
    fast_retry = {"max_tries": -1, "delay": 0.005, "backoff": 1.5, "max_delay": 0.1}
    clients = [make_client(command_retry=fast_retry) for _ in range(threads)]

    def work(i):
        counter = clients[i].Counter("/count")
        for _ in range(per_thread):
            counter += 1
            assert counter.post_value == counter.pre_value + 1

    results(start_workers(work, threads), timeout=90)
    assert clients[0].Counter("/count").value == threads * per_thread


def test_counter_arithmetic_defaults_and_curator_format(zk):
    c = zk.Counter("/int")
    assert c.value == 0
    c += 5
    c -= 2
    assert c.value == 3 and c.pre_value == 5 and c.post_value == 3
    assert zk.get("/int")[0] == b"3"

    f = zk.Counter("/float", default=1.5)
    f += 2.25
    assert f.value == 3.75

    cur = zk.Counter("/curator", support_curator=True)
    cur += 258
    assert zk.get("/curator")[0] == (258).to_bytes(4, "big")
    cur -= 1
    assert cur.value == 257
    with pytest.raises(TypeError):
        zk.Counter("/bad", default=0.5, support_curator=True)
