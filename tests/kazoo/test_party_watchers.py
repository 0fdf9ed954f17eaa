"""kazoo's Party/ShallowParty recipes and DataWatch/ChildrenWatch against corral."""

import threading

import pytest
from kazoo.protocol.states import EventType

from _util import EventLog, wait_until


@pytest.mark.parametrize("kind", ["Party", "ShallowParty"])
def test_party_membership_seen_by_others(make_client, kind):
    observer = make_client()
    members = {name: make_client() for name in ("alice", "bob", "carol")}
    parties = {name: getattr(c, kind)("/party", name) for name, c in members.items()}
    view = getattr(observer, kind)("/party", "observer")  # never joins
    assert len(view) == 0 and list(view) == []

    for name, party in parties.items():
        party.join()
        assert party.participating
    assert len(view) == 3
    assert sorted(view) == ["alice", "bob", "carol"]
    parties["alice"].join()  # joining twice is harmless
    assert len(view) == 3

    assert parties["bob"].leave() is True
    assert parties["bob"].leave() is False
    assert sorted(view) == ["alice", "carol"]

    # A member's session ends: it leaves the party without a word.
    members["carol"].stop()
    wait_until(lambda: sorted(view) == ["alice"], timeout=10)
    assert len(view) == 1


def test_data_watch_sees_every_change_in_order_and_deletion(make_client):
    watcher, writer = make_client(), make_client()
    seen = EventLog()

    @watcher.DataWatch("/data")
    def on_change(data, stat, event):
        seen.append((data, stat.version if stat else None, event.type if event else None))

    # First call: the node does not exist yet.
    assert seen.wait_len(1)[0] == (None, None, None)

    writer.create("/data", b"v0")
    seen.wait_len(2)
    for i in range(1, 11):
        writer.set("/data", f"v{i}".encode())
        # Wait for each change before the next, so no update can be coalesced.
        seen.wait_len(2 + i)
    writer.delete("/data")
    items = seen.wait_len(13)

    assert items[1] == (b"v0", 0, EventType.CREATED)
    for i in range(1, 11):
        assert items[1 + i] == (f"v{i}".encode(), i, EventType.CHANGED)
    assert items[12] == (None, None, EventType.DELETED)

    # It keeps watching: recreating the node is seen too.
    writer.create("/data", b"again")
    assert seen.wait_len(14)[13] == (b"again", 0, EventType.CREATED)


def test_data_watch_rapid_changes_are_never_out_of_order(make_client):
    watcher, writer = make_client(), make_client()
    writer.create("/rapid", b"0")
    versions = EventLog()
    watcher.DataWatch("/rapid", lambda data, stat: versions.append((int(data), stat.version)))
    versions.wait_len(1)
    for i in range(1, 51):
        writer.set("/rapid", str(i).encode())
    items = versions.wait_for(lambda it: it and it[-1] == (50, 50), timeout=15)
    # Changes may be coalesced, but each call sees data matching its stat, always newer.
    assert all(data == version for data, version in items)
    assert [v for _, v in items] == sorted(set(v for _, v in items))


def test_data_watch_stops_when_callback_returns_false(make_client):
    watcher, writer = make_client(), make_client()
    writer.create("/stop", b"0")
    calls = EventLog()

    def once_more(data, stat):
        calls.append(data)
        return data != b"1"  # stop after seeing b"1"

    watcher.DataWatch("/stop", once_more)
    calls.wait_len(1)
    writer.set("/stop", b"1")
    calls.wait_len(2)
    writer.set("/stop", b"2")
    # A fresh watch set after the change proves the change was propagated.
    fired = threading.Event()
    watcher.get("/stop", watch=lambda ev: fired.set())
    writer.set("/stop", b"3")
    assert fired.wait(10)
    assert calls.items() == [b"0", b"1"]


def test_children_watch_sees_every_change_in_order_and_parent_deletion(make_client):
    watcher, writer = make_client(), make_client()
    writer.create("/kids")
    seen = EventLog()

    @watcher.ChildrenWatch("/kids", send_event=True)
    def on_children(children, event):
        seen.append((sorted(children), event.type if event else None))

    assert seen.wait_len(1)[0] == ([], None)
    expected = [([], None)]
    names = []
    for i in range(6):
        names.append(f"c{i}")
        writer.create(f"/kids/c{i}")
        expected.append((sorted(names), EventType.CHILD))
        assert seen.wait_len(len(expected)) == expected
    for name in ("c2", "c0"):
        names.remove(name)
        writer.delete(f"/kids/{name}")
        expected.append((sorted(names), EventType.CHILD))
        assert seen.wait_len(len(expected)) == expected
    # A data change on the parent is no children change.
    writer.set("/kids", b"data")
    # An ephemeral child that vanishes with its session is seen.
    temp = make_client()
    temp.create("/kids/temp", ephemeral=True)
    expected.append((sorted(names + ["temp"]), EventType.CHILD))
    assert seen.wait_len(len(expected)) == expected
    temp.stop()
    expected.append((sorted(names), EventType.CHILD))
    assert seen.wait_len(len(expected)) == expected

    # Deleting the watched node ends the watch: kazoo stops calling back.
    writer.delete("/kids", recursive=True)
    wait_until(lambda: watcher.exists("/kids") is None)
    writer.create("/kids")
    writer.create("/kids/after")
    fired = threading.Event()
    watcher.get_children("/kids", watch=lambda ev: fired.set())
    writer.create("/kids/after2")
    assert fired.wait(10)
    # Only CHILD events from the recursive delete of the remaining children may follow.
    tail = seen.items()[len(expected):]
    assert all(ev == EventType.CHILD for _, ev in tail), tail
    assert all("after" not in kids for kids, _ in tail), tail
