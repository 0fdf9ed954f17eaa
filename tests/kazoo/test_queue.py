"""kazoo's Queue and LockingQueue recipes against corral."""

import threading

import pytest

from _util import EventLog, Worker, results, start_workers, wait_until


def test_queue_fifo_and_priority(zk):
    q = zk.Queue("/q")
    assert len(q) == 0
    assert q.get() is None
    for i in range(5):
        q.put(f"normal-{i}".encode())
    q.put(b"urgent-0", priority=1)
    q.put(b"low-0", priority=999)
    q.put(b"urgent-1", priority=1)
    q.put(b"top", priority=0)
    assert len(q) == 9
    got = [q.get() for _ in range(9)]
    assert got == [
        b"top",
        b"urgent-0",
        b"urgent-1",
        b"normal-0",
        b"normal-1",
        b"normal-2",
        b"normal-3",
        b"normal-4",
        b"low-0",
    ]
    assert q.get() is None
    assert len(q) == 0
    with pytest.raises(TypeError):
        q.put("not bytes")
    with pytest.raises(ValueError):
        q.put(b"x", priority=1000)


def test_queue_concurrent_producers_and_consumers_exactly_once(make_client):
    producers, consumers, per_producer = 3, 3, 15
    total = producers * per_producer
    clients = [make_client() for _ in range(producers + consumers)]
    consumed = EventLog()
    done_producing = threading.Event()

    def produce(i):
        q = clients[i].Queue("/work")
        for j in range(per_producer):
            q.put(f"{i}:{j}".encode())

    def consume(i):
        q = clients[producers + i].Queue("/work")
        mine = []
        while True:
            item = q.get()
            if item is not None:
                mine.append(item.decode())
                consumed.append(item.decode())
            elif done_producing.is_set() and len(q) == 0:
                return mine
            elif len(consumed) >= total:
                return mine
            else:
                threading.Event().wait(0.01)

    consumer_threads = start_workers(consume, consumers, name="consumer")
    results(start_workers(produce, producers, name="producer"), timeout=60)
    done_producing.set()
    per_consumer = results(consumer_threads, timeout=60)
    items = consumed.items()
    assert len(items) == total, "items lost or duplicated"
    assert sorted(items) == sorted(f"{i}:{j}" for i in range(producers) for j in range(per_producer))
    # Each producer's items come out in the order they were put (FIFO per producer), as seen
    # by every single consumer.
    for mine in per_consumer:
        for i in range(producers):
            seq = [int(x.split(":")[1]) for x in mine if x.startswith(f"{i}:")]
            assert seq == sorted(seq), (i, seq)


def test_locking_queue_get_consume_release(make_client):
    a_client, b_client = make_client(), make_client()
    qa = a_client.LockingQueue("/lq")
    qb = b_client.LockingQueue("/lq")
    qa.put(b"normal")
    qa.put_all([b"first", b"second"], priority=5)
    qa.put(b"last", priority=500)
    assert len(qa) == 4

    assert qa.get(timeout=5) == b"first"
    assert qa.holds_lock()
    assert qa.get(timeout=5) == b"first"  # the unconsumed entry is handed out again
    # Another consumer skips the locked entry.
    assert qb.get(timeout=5) == b"second"
    assert len(qa) == 4  # locked entries still count

    # release: the entry goes back to the queue for others.
    assert qb.release() is True
    assert not qb.holds_lock()
    assert qb.release() is False
    assert qb.get(timeout=5) == b"second"

    assert qa.consume() is True
    assert qa.consume() is False
    assert len(qa) == 3
    assert qb.consume() is True
    assert qa.get(timeout=5) == b"normal"
    assert qb.get(timeout=5) == b"last"
    assert qa.consume() and qb.consume()
    assert len(qa) == 0
    assert qa.get(timeout=0.2) is None


def test_locking_queue_blocking_get_wakes_on_put(make_client):
    consumer, producer = make_client(), make_client()
    q = consumer.LockingQueue("/lq-wait")
    w = Worker(lambda: q.get(timeout=20))
    w.start()
    wait_until(lambda: consumer.exists("/lq-wait/entries") is not None)
    threading.Event().wait(0.2)
    assert w.is_alive()
    producer.LockingQueue("/lq-wait").put(b"hello")
    assert w.result(timeout=10) == b"hello"
    assert q.consume()


def test_locking_queue_lock_is_freed_when_consumer_session_ends(make_client):
    dying, survivor, producer = make_client(), make_client(), make_client()
    producer.LockingQueue("/lq-crash").put(b"job")
    q_dying = dying.LockingQueue("/lq-crash")
    q_survivor = survivor.LockingQueue("/lq-crash")
    assert q_dying.get(timeout=5) == b"job"
    assert q_survivor.get(timeout=0.3) is None  # locked by the other consumer
    dying.stop()  # crashes before consuming: its ephemeral lock goes away
    assert q_survivor.get(timeout=10) == b"job"
    assert q_survivor.consume()
    assert len(q_survivor) == 0


def test_locking_queue_concurrent_consumers_each_entry_once(make_client):
    n_items, n_consumers = 24, 4
    producer = make_client()
    producer.LockingQueue("/lq-many").put_all([str(i).encode() for i in range(n_items)])
    clients = [make_client() for _ in range(n_consumers)]
    taken = EventLog()

    def consume(i):
        q = clients[i].LockingQueue("/lq-many")
        while True:
            item = q.get(timeout=1.0)
            if item is None:
                return
            taken.append(int(item))
            assert q.consume()

    results(start_workers(consume, n_consumers), timeout=60)
    assert sorted(taken.items()) == list(range(n_items))
    assert len(producer.LockingQueue("/lq-many")) == 0
