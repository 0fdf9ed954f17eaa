"""More kazoo recipes against corral: TreeCache, SetPartitioner, leases, PatientChildrenWatch."""

import datetime
import threading
import time

from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.recipe.watchers import PatientChildrenWatch

from _util import EventLog, wait_until


def test_tree_cache_mirrors_a_subtree(make_client):
    writer, reader = make_client(), make_client()
    writer.create("/tree/a", b"A", makepath=True)
    writer.create("/tree/a/x", b"AX")
    writer.create("/tree/b", b"B")

    cache = TreeCache(reader, "/tree")
    events = EventLog()
    cache.listen(events.append)
    errors = EventLog()
    cache.listen_fault(errors.append)
    cache.start()
    try:
        events.wait_for(lambda items: any(e.event_type == TreeEvent.INITIALIZED for e in items))
        assert sorted(cache.get_children("/tree")) == ["a", "b"]
        assert sorted(cache.get_children("/tree/a")) == ["x"]
        assert cache.get_data("/tree/a/x").data == b"AX"
        assert cache.get_data("/tree/b").stat == writer.exists("/tree/b")

        n = len(events)
        writer.create("/tree/c", b"C")
        writer.set("/tree/a/x", b"AX2")
        writer.create("/tree/a/x/deep", b"D")
        writer.delete("/tree/b")

        def seen(kind, path):
            return lambda items: any(
                e.event_type == kind and e.event_data and e.event_data.path == path
                for e in items[n:]
            )

        events.wait_for(seen(TreeEvent.NODE_ADDED, "/tree/c"))
        events.wait_for(seen(TreeEvent.NODE_UPDATED, "/tree/a/x"))
        events.wait_for(seen(TreeEvent.NODE_ADDED, "/tree/a/x/deep"))
        events.wait_for(seen(TreeEvent.NODE_REMOVED, "/tree/b"))
        assert cache.get_data("/tree/a/x").data == b"AX2"
        assert cache.get_data("/tree/a/x").stat.version == 1
        assert cache.get_data("/tree/a/x/deep").data == b"D"
        assert cache.get_data("/tree/b") is None
        assert sorted(cache.get_children("/tree")) == ["a", "c"]

        # Deleting a whole branch removes every node below it, children first.
        n = len(events)
        writer.delete("/tree/a", recursive=True)
        events.wait_for(seen(TreeEvent.NODE_REMOVED, "/tree/a"))
        removed = [
            e.event_data.path for e in events.items()[n:] if e.event_type == TreeEvent.NODE_REMOVED
        ]
        assert set(removed) == {"/tree/a", "/tree/a/x", "/tree/a/x/deep"}
        assert cache.get_data("/tree/a") is None
        assert errors.items() == []
    finally:
        cache.close()


def test_set_partitioner_splits_a_set_among_members(make_client):
    items = [f"item-{i}" for i in range(7)]
    clients = [make_client() for _ in range(3)]

    def partitioner(client, name):
        return client.SetPartitioner(
            "/partition", set=items, identifier=name, time_boundary=0.3, max_reaction_time=0.1
        )

    def settle(parts, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in parts:
                if p.failed:
                    raise AssertionError("a partitioner failed")
                if p.release:
                    p.release_set()
                elif p.allocating:
                    p.wait_for_acquire(timeout=0.2)
            if all(p.acquired for p in parts):
                return [sorted(p) for p in parts]
        raise AssertionError(f"partitioners did not settle: {[p.state for p in parts]}")

    parts = [partitioner(clients[0], "m0"), partitioner(clients[1], "m1")]
    split = settle(parts)
    assert sorted(sum(split, [])) == items  # every item given out exactly once
    assert all(split)  # 7 items over 2 members: nobody idle

    # A third member joins: everyone releases and re-partitions.
    parts.append(partitioner(clients[2], "m2"))
    split = settle(parts)
    assert sorted(sum(split, [])) == items
    assert all(split)

    # A member's session ends: the survivors take its share.
    clients[2].stop()
    survivors = parts[:2]
    wait_until(lambda: not all(p.acquired for p in survivors), timeout=10)
    split = settle(survivors)
    assert sorted(sum(split, [])) == items
    for p in survivors:
        p.finish()


def test_non_blocking_lease(make_client):
    a, b = make_client(), make_client()
    now = [datetime.datetime(2030, 1, 1, 12, 0, 0)]
    clock = lambda: now[0]  # noqa: E731
    hour = datetime.timedelta(hours=1)

    assert a.NonBlockingLease("/lease", hour, identifier="a", utcnow=clock)
    assert not b.NonBlockingLease("/lease", hour, identifier="b", utcnow=clock)
    # The holder renews its own lease.
    now[0] += datetime.timedelta(minutes=30)
    assert a.NonBlockingLease("/lease", hour, identifier="a", utcnow=clock)
    now[0] += datetime.timedelta(minutes=45)
    assert not b.NonBlockingLease("/lease", hour, identifier="b", utcnow=clock)
    # After it ran out, someone else may take it.
    now[0] += datetime.timedelta(minutes=20)
    assert b.NonBlockingLease("/lease", hour, identifier="b", utcnow=clock)
    assert not a.NonBlockingLease("/lease", hour, identifier="a", utcnow=clock)

    c = make_client()
    got = [
        bool(cl.MultiNonBlockingLease(2, "/multi", hour, identifier=name, utcnow=clock))
        for cl, name in ((a, "a"), (b, "b"), (c, "c"))
    ]
    assert got == [True, True, False]


def test_patient_children_watch_waits_for_quiet(make_client):
    watcher_client, writer = make_client(), make_client()
    writer.create("/patient")
    watch = PatientChildrenWatch(watcher_client, "/patient", time_boundary=1.0)
    result = watch.start()

    def churn():
        for i in range(5):
            writer.create(f"/patient/c{i}")
            time.sleep(0.1)

    t = threading.Thread(target=churn, daemon=True)
    t.start()
    children, later = result.get(timeout=15)
    t.join(10)
    # It only answered once the children stopped changing for a whole second.
    assert sorted(children) == [f"c{i}" for i in range(5)]
    assert not later.ready()
    writer.create("/patient/late")
    assert later.get(timeout=10) is not None
