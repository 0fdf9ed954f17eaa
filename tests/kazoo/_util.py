"""Small helpers shared by the kazoo tests: bounded waiting and bounded threads."""

import threading
import time

DEFAULT_TIMEOUT = 10.0


def wait_until(predicate, timeout=DEFAULT_TIMEOUT, interval=0.02, message=None):
    """Polls ``predicate`` until it returns a truthy value (returned) or fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


class Worker(threading.Thread):
    """A daemon thread that remembers its result or exception; ``result()`` joins (bounded)."""

    def __init__(self, target, *args, name=None, **kwargs):
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._args = args
        self._kwargs = kwargs
        self.value = None
        self.error = None

    def run(self):
        try:
            self.value = self._target_fn(*self._args, **self._kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported by result()
            self.error = exc

    def result(self, timeout=DEFAULT_TIMEOUT):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError(f"thread {self.name} did not finish within {timeout}s")
        if self.error is not None:
            raise self.error
        return self.value


def start_workers(target, count, *args, name="worker", **kwargs):
    """Starts ``count`` workers calling ``target(i, *args, **kwargs)``; returns them."""
    workers = [Worker(target, i, *args, name=f"{name}-{i}", **kwargs) for i in range(count)]
    for w in workers:
        w.start()
    return workers


def results(workers, timeout=DEFAULT_TIMEOUT):
    """Joins all workers within one shared deadline and returns their results in order."""
    deadline = time.monotonic() + timeout
    return [w.result(max(0.0, deadline - time.monotonic())) for w in workers]


class EventLog:
    """A thread-safe append-only list with a condition to wait for a length or an item."""

    def __init__(self):
        self._items = []
        self._cond = threading.Condition()

    def append(self, item):
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def items(self):
        with self._cond:
            return list(self._items)

    def __len__(self):
        with self._cond:
            return len(self._items)

    def wait_for(self, predicate, timeout=DEFAULT_TIMEOUT, message=None):
        """Waits until ``predicate(items)`` is truthy; returns a snapshot of the items."""
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self._items), timeout)
            snapshot = list(self._items)
        if not ok:
            raise AssertionError(
                (message or "condition on event log not met") + f" within {timeout}s; got {snapshot}"
            )
        return snapshot

    def wait_len(self, n, timeout=DEFAULT_TIMEOUT):
        return self.wait_for(lambda items: len(items) >= n, timeout, f"expected >= {n} items")


class TcpProxy:
    """A TCP forwarder between clients and the server that the test can cut off.

    While ``blocked`` it drops every forwarded connection and closes new ones at once, so a
    client behind it can reach the server neither with its current connection nor a new one:
    its session keeps running on the server until it times out there.
    """

    def __init__(self, upstream):
        import socket

        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.address = "127.0.0.1:%d" % self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs = []
        self._blocked = False
        self._frozen = False
        self._closed = False
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    def _accept_loop(self):
        import socket

        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                if self._blocked or self._closed:
                    conn.close()
                    continue
            try:
                up = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                conn.close()
                continue
            conn.settimeout(None)
            up.settimeout(None)
            with self._lock:
                self._pairs.append((conn, up))
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self._frozen and not self._closed:
                    time.sleep(0.01)  # hold the bytes back, keep the connection open
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def _drop_all(self):
        import socket

        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    s.close()
                except OSError:
                    pass

    def block(self):
        with self._lock:
            self._blocked = True
        self._drop_all()

    def unblock(self):
        with self._lock:
            self._blocked = False

    def freeze(self):
        """Stops forwarding in both directions but keeps every connection open (a hung peer or
        a network partition without resets)."""
        self._frozen = True

    def thaw(self):
        self._frozen = False

    def open_connections(self):
        """How many forwarded connections are still open at both ends."""
        with self._lock:
            return sum(1 for a, b in self._pairs if a.fileno() != -1 and b.fileno() != -1)

    def close(self):
        self._closed = True
        self._drop_all()
        try:
            self._listener.close()
        except OSError:
            pass
        self._thread.join(2)


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return buf


def raw_connect(hostport, timeout_ms, session_id=0, passwd=b"\0" * 16):
    """Sends a hand-encoded ConnectRequest; returns (socket, negotiated timeout ms, session id,
    password). The caller owns the socket."""
    import socket
    import struct

    host, port = hostport.rsplit(":", 1)
    body = struct.pack(">iqiqi", 0, 0, timeout_ms, session_id, len(passwd)) + passwd + b"\0"
    sock = socket.create_connection((host, int(port)), timeout=10)
    try:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (length,) = struct.unpack(">i", _recv_exact(sock, 4))
        reply = _recv_exact(sock, length)
    except BaseException:
        sock.close()
        raise
    _proto, negotiated, sid, plen = struct.unpack(">iiqi", reply[:20])
    return sock, negotiated, sid, reply[20 : 20 + plen]


def raw_session(hostport, timeout_ms, session_id=0, passwd=b"\0" * 16, close=True):
    """Opens a session with a hand-encoded ConnectRequest (kazoo keeps the negotiated timeout
    to itself); returns (negotiated timeout ms, session id, password) and, if the session is
    valid and ``close``, closes it again with a closeSession request."""
    import struct

    sock, negotiated, sid, password = raw_connect(hostport, timeout_ms, session_id, passwd)
    with sock:
        if close and negotiated > 0:
            req = struct.pack(">ii", 1, -11)  # xid 1, closeSession
            sock.sendall(struct.pack(">i", len(req)) + req)
            (length,) = struct.unpack(">i", _recv_exact(sock, 4))
            xid, _zxid, err = struct.unpack(">iqi", _recv_exact(sock, length)[:16])
            assert (xid, err) == (1, 0), (xid, err)
    return negotiated, sid, password
