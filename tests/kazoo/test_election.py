"""kazoo's Election recipe against corral."""

import threading

from _util import EventLog, Worker, wait_until


class Candidate:
    """One contender on its own client; leads until told to step down."""

    def __init__(self, client, name, path, log, tracker):
        self.client = client
        self.name = name
        self.election = client.Election(path, identifier=name)
        self.step_down = threading.Event()
        self.elected = threading.Event()
        self._log = log
        self._tracker = tracker
        self.worker = Worker(self.election.run, self._lead, name=name)

    def _lead(self):
        self._tracker.enter(self.name)
        self.elected.set()
        self._log.append(("elected", self.name))
        try:
            self.step_down.wait(30)
        finally:
            self._tracker.leave(self.name)
            self._log.append(("stepped down", self.name))


class LeaderTracker:
    def __init__(self):
        self._lock = threading.Lock()
        self.leaders = set()
        self.max_concurrent = 0

    def enter(self, name):
        with self._lock:
            self.leaders.add(name)
            self.max_concurrent = max(self.max_concurrent, len(self.leaders))

    def leave(self, name):
        with self._lock:
            self.leaders.discard(name)


def test_one_leader_at_a_time_in_order(make_client):
    log, tracker = EventLog(), LeaderTracker()
    names = ["c0", "c1", "c2", "c3"]
    candidates = []
    for name in names:
        cand = Candidate(make_client(), name, "/election", log, tracker)
        cand.worker.start()
        candidates.append(cand)
        # Join in a known order.
        wait_until(lambda: len(cand.election.contenders()) == len(candidates))

    assert candidates[0].elected.wait(10)
    assert candidates[0].election.contenders() == names
    for i, cand in enumerate(candidates):
        assert cand.elected.wait(10), f"{cand.name} never became leader"
        assert tracker.leaders == {cand.name}
        # Nobody after it is leader while it leads.
        assert not any(c.elected.is_set() for c in candidates[i + 1 :])
        assert cand.election.contenders() == names[i:]
        cand.step_down.set()
        cand.worker.result(timeout=10)

    assert tracker.max_concurrent == 1
    assert [e for e in log.items() if e[0] == "elected"] == [("elected", n) for n in names]
    assert candidates[0].election.contenders() == []


def test_leadership_passes_on_when_leader_client_stops(make_client):
    log, tracker = EventLog(), LeaderTracker()
    a = Candidate(make_client(), "a", "/failover", log, tracker)
    a.worker.start()
    assert a.elected.wait(10)
    b = Candidate(make_client(), "b", "/failover", log, tracker)
    c = Candidate(make_client(), "c", "/failover", log, tracker)
    b.worker.start()
    wait_until(lambda: b.election.contenders() == ["a", "b"])
    c.worker.start()
    wait_until(lambda: c.election.contenders() == ["a", "b", "c"])
    assert not b.elected.is_set() and not c.elected.is_set()

    # The leader's process "dies": its session closes while its leader function still runs.
    a.client.stop()
    assert b.elected.wait(10), "leadership did not pass on after the leader's session ended"
    assert not c.elected.is_set()
    assert c.election.contenders() == ["b", "c"]
    a.step_down.set()  # let a's thread finish (its lock release fails: the client is closed)
    a.worker.join(10)

    b.client.stop()
    assert c.elected.wait(10)
    assert c.election.contenders() == ["c"]
    b.step_down.set()
    c.step_down.set()
    c.worker.result(timeout=10)
    b.worker.join(10)


def test_cancel_a_waiting_contender(make_client):
    log, tracker = EventLog(), LeaderTracker()
    leader = Candidate(make_client(), "leader", "/cancel-election", log, tracker)
    leader.worker.start()
    assert leader.elected.wait(10)
    waiting = Candidate(make_client(), "waiting", "/cancel-election", log, tracker)
    waiting.worker.start()
    wait_until(lambda: leader.election.contenders() == ["leader", "waiting"])
    waiting.election.cancel()
    waiting.worker.result(timeout=10)  # run() returns without ever leading
    assert not waiting.elected.is_set()
    wait_until(lambda: leader.election.contenders() == ["leader"])
    leader.step_down.set()
    leader.worker.result(timeout=10)
