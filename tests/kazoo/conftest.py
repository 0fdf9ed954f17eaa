"""Fixtures for running kazoo (and its recipes) against a real `corral server` process.

Set ``KAZOO_TEST_EXTERNAL_SERVER=host:port`` to run the suite against an already running server
instead (e.g. Apache ZooKeeper with tickTime=200, minSessionTimeout=800, 4lw whitelist ``*``),
to check that an expectation is ZooKeeper's behaviour and not an artefact of corral.

* ``corral_server`` (session): starts ``$CORRAL_BIN server --config <tmp>/zoo.cfg`` on a free
  127.0.0.1 port with a temporary data directory, waits (bounded) until ``ruok`` answers
  ``imok`` and yields ``"127.0.0.1:<port>"``. The process is stopped at the end of the session
  (SIGTERM, then SIGKILL after a bounded wait), also when tests fail.
* ``chroot`` (function): a unique chroot path per test.
* ``make_client`` (function): a factory of started ``KazooClient``s, all in the test's chroot;
  every client it made is stopped and closed after the test.
* ``zk`` (function): one started client from ``make_client``.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
from kazoo.client import KazooClient

# The server runs with a short tick so that short sessions are allowed and expire promptly:
# ZooKeeper (and Corral) allow session timeouts between 2 and 20 ticks by default; we widen
# the range explicitly so that kazoo's default 10 s timeout is accepted as well.
TICK_MS = 200
MIN_SESSION_TIMEOUT_MS = 800
MAX_SESSION_TIMEOUT_MS = 30_000

STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 10.0
CLIENT_START_TIMEOUT_S = 15.0

CHROOT_BASE = "/kazoo-tests"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(hostport, word, timeout=5.0):
    """Sends a four-letter word and returns the whole answer (read until the server closes)."""
    host, port = hostport.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(word if isinstance(word, bytes) else word.encode())
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _log_tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "<no log>"
    return "\n".join(text.splitlines()[-lines:])


def _load_prctl():
    # Resolved here, in the parent: the child of a fork in a threaded process (kazoo runs
    # threads) should do no more than call one C function before exec.
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:  # pragma: no cover - best effort only
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _parent_death_signal():
    """In the child: ask Linux to SIGKILL the server if the test runner dies abruptly."""
    _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _stop_process(proc):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)


def corral_binary():
    """$CORRAL_BIN, checked; fails the test (or fixture) with a clear message otherwise."""
    binary = os.environ.get("CORRAL_BIN")
    if not binary:
        pytest.fail(
            "CORRAL_BIN is not set: point it at a built corral binary, e.g. "
            "CORRAL_BIN=$PWD/target/debug/corral (cargo build -p corral)",
            pytrace=False,
        )
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(
            f"CORRAL_BIN={binary!r} is not an executable file (build it with cargo build -p corral)",
            pytrace=False,
        )
    return binary


class CorralProcess:
    """One `corral server` process with its own zoo.cfg and data directory under ``base``.

    ``start()`` picks a free port the first time and keeps it across restarts.
    """

    def __init__(self, binary, base):
        self.binary = binary
        self.base = base
        self.data_dir = base / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = base / "server.log"
        self.cfg_path = base / "zoo.cfg"
        self.port = None
        self.proc = None

    @property
    def hostport(self):
        return f"127.0.0.1:{self.port}"

    def _write_config(self):
        self.cfg_path.write_text(
            "\n".join(
                [
                    f"tickTime={TICK_MS}",
                    f"dataDir={self.data_dir}",
                    f"clientPort={self.port}",
                    "clientPortAddress=127.0.0.1",
                    "maxClientCnxns=0",
                    f"minSessionTimeout={MIN_SESSION_TIMEOUT_MS}",
                    f"maxSessionTimeout={MAX_SESSION_TIMEOUT_MS}",
                    "4lw.commands.whitelist=*",
                    "admin.enableServer=false",
                    "",
                ]
            )
        )

    def start(self):
        # A free port can be taken by someone else between our probe and the server's bind:
        # on a first start, retry with a fresh port when the server exits early.
        keep_port = self.port is not None
        last_error = None
        for _attempt in range(1 if keep_port else 3):
            if not keep_port:
                self.port = _free_port()
            self._write_config()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [self.binary, "server", "--config", str(self.cfg_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=str(self.base),
                    preexec_fn=_parent_death_signal if _PRCTL is not None else None,
                )
            try:
                deadline = time.monotonic() + STARTUP_TIMEOUT_S
                while time.monotonic() < deadline:
                    if self.proc.poll() is not None:
                        break
                    try:
                        if four_letter(self.hostport, b"ruok", timeout=1.0) == "imok":
                            return self.hostport
                    except OSError as exc:
                        last_error = exc
                    time.sleep(0.05)
                if self.proc.poll() is None:
                    self.stop()
                    pytest.fail(
                        f"corral server on {self.hostport} did not answer ruok with imok within "
                        f"{STARTUP_TIMEOUT_S:.0f}s (last error: {last_error}); log tail:\n"
                        + _log_tail(self.log_path),
                        pytrace=False,
                    )
                last_error = f"exited with status {self.proc.returncode}"
            except BaseException:
                self.stop()
                raise
        pytest.fail(
            f"corral server failed to start ({last_error}); log tail:\n"
            + _log_tail(self.log_path),
            pytrace=False,
        )

    def stop(self):
        """SIGTERM, then SIGKILL after a bounded wait. Returns the exit status."""
        if self.proc is not None:
            _stop_process(self.proc)
            return self.proc.returncode
        return None

    def kill(self):
        """SIGKILL at once (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)


def pytest_sessionstart(session):
    # Say once, before any test runs, what is missing (rather than an error per test).
    if session.config.option.collectonly or os.environ.get("KAZOO_TEST_EXTERNAL_SERVER"):
        return
    binary = os.environ.get("CORRAL_BIN")
    if not binary or not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.exit(
            f"CORRAL_BIN={binary!r}: set it to a built corral binary, e.g. "
            "CORRAL_BIN=$PWD/target/debug/corral after `cargo build -p corral`",
            returncode=4,
        )


@pytest.fixture(scope="session")
def corral_server(tmp_path_factory):
    """``host:port`` of the corral server shared by the whole session."""
    external = os.environ.get("KAZOO_TEST_EXTERNAL_SERVER")
    if external:
        # For comparing against another server (e.g. Apache ZooKeeper started by hand with the
        # same zoo.cfg settings as CorralProcess writes): the suite then uses it instead.
        yield external
        return
    server = CorralProcess(corral_binary(), tmp_path_factory.mktemp("corral"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def private_corral(tmp_path):
    """A corral server of this test's own (for restarts); stopped after the test."""
    if os.environ.get("KAZOO_TEST_EXTERNAL_SERVER"):
        pytest.skip("needs to start its own corral server")
    server = CorralProcess(corral_binary(), tmp_path / "corral")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def root_client(corral_server):
    """A client at the server's real root, shared by the session (used to make chroots)."""
    client = KazooClient(hosts=corral_server, timeout=10.0)
    client.start(timeout=CLIENT_START_TIMEOUT_S)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def chroot(request, root_client):
    """A fresh, existing chroot path for this test."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]
    path = f"{CHROOT_BASE}/{name}-{uuid.uuid4().hex[:8]}"
    root_client.create(path, makepath=True)
    return path


@pytest.fixture
def make_client(corral_server, chroot):
    """A factory: ``make_client(**kazoo_kwargs)`` returns a started client in the test's chroot.

    Pass ``chroot=False`` for a client at the server's real root.
    """
    clients = []

    def make(chroot_path=True, **kwargs):
        hosts = corral_server + (chroot if chroot_path is True else (chroot_path or ""))
        kwargs.setdefault("timeout", 10.0)
        client = KazooClient(hosts=hosts, **kwargs)
        clients.append(client)
        client.start(timeout=CLIENT_START_TIMEOUT_S)
        return client

    yield make

    for client in clients:
        try:
            client.stop()
        except Exception:
            pass
        try:
            client.close()
        except Exception:
            pass


@pytest.fixture
def zk(make_client):
    return make_client()
