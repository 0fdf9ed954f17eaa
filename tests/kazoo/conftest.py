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


def _parent_death_signal():
    """In the child: ask Linux to SIGKILL the server if the test runner dies abruptly."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # pragma: no cover - best effort only
        pass


def _stop_process(proc):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)


@pytest.fixture(scope="session")
def corral_server(tmp_path_factory):
    external = os.environ.get("KAZOO_TEST_EXTERNAL_SERVER")
    if external:
        # For comparing against another server (e.g. Apache ZooKeeper started by hand with the
        # same zoo.cfg settings as below): the suite then uses it instead of starting corral.
        yield external
        return
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

    base = tmp_path_factory.mktemp("corral")
    data_dir = base / "data"
    data_dir.mkdir()
    log_path = base / "server.log"

    # A free port can be taken by someone else between our probe and the server's bind; retry
    # a few times with a fresh port when the server exits early.
    last_error = None
    for _attempt in range(3):
        port = _free_port()
        hostport = f"127.0.0.1:{port}"
        cfg = base / "zoo.cfg"
        cfg.write_text(
            "\n".join(
                [
                    f"tickTime={TICK_MS}",
                    f"dataDir={data_dir}",
                    f"clientPort={port}",
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
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [binary, "server", "--config", str(cfg)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(base),
            preexec_fn=_parent_death_signal if sys.platform.startswith("linux") else None,
        )
        log.close()
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            ready = False
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                try:
                    if four_letter(hostport, b"ruok", timeout=1.0) == "imok":
                        ready = True
                        break
                except OSError as exc:
                    last_error = exc
                time.sleep(0.05)
            if ready:
                try:
                    yield hostport
                finally:
                    _stop_process(proc)
                return
            if proc.poll() is None:
                _stop_process(proc)
                pytest.fail(
                    f"corral server on {hostport} did not answer ruok with imok within "
                    f"{STARTUP_TIMEOUT_S:.0f}s (last error: {last_error}); log tail:\n"
                    + _log_tail(log_path),
                    pytrace=False,
                )
            last_error = f"exited with status {proc.returncode}"
        except BaseException:
            _stop_process(proc)
            raise
    pytest.fail(
        f"corral server failed to start ({last_error}); log tail:\n" + _log_tail(log_path),
        pytrace=False,
    )


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
