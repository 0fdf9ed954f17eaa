//! What every real-client test needs: a `corral server` process of its own (free port, fresh
//! data directory, killed on drop), clients of both kinds connected to it, bounded waits, and
//! four-letter words over async TCP (a blocking call would stall the test's runtime and with
//! it the client's session task).

use std::path::Path;
use std::time::Duration;

use corral_testkit::CorralProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zookeeper_client as zk;

#[path = "../common/wait.rs"]
mod wait;
pub use wait::{eventually, within, STEP};

/// Session timeout the tests' ordinary clients ask for.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Digest identities of the test users: `user:BASE64(SHA1("user:password"))`, computed once
/// with Python's hashlib and base64 so the server's digest code is checked against an
/// independent computation.
pub const BOB: &str = "bob:secret";
pub const BOB_DIGEST: &str = "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=";
pub const ALICE: &str = "alice:wonder";
pub const SUPER: &str = "super:test";
pub const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";

/// Open ACL, persistent mode: what most tests create with.
pub const PERSISTENT: zk::CreateOptions<'static> =
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
pub const EPHEMERAL: zk::CreateOptions<'static> =
    zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
pub const PERSISTENT_SEQUENTIAL: zk::CreateOptions<'static> =
    zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
pub const EPHEMERAL_SEQUENTIAL: zk::CreateOptions<'static> =
    zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
pub const CONTAINER: zk::CreateOptions<'static> =
    zk::CreateMode::Container.with_acls(zk::Acls::anyone_all());

/// One `corral server` process with its own data directory.
pub struct Server {
    // Field order: the process is killed before its data directory is removed.
    process: CorralProcess,
    _data: tempfile::TempDir,
}

impl Server {
    /// A standalone server with the testkit's defaults (tickTime 2000, every 4lw allowed).
    pub fn start() -> Server {
        Server::with_cfg(&[])
    }

    /// A standalone server with extra zoo.cfg entries.
    pub fn with_cfg(extra: &[(&str, &str)]) -> Server {
        let data = tempfile::Builder::new()
            .prefix("corral-real-client-")
            .tempdir()
            .expect("temporary data directory");
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let binary = Path::new(env!("CARGO_BIN_EXE_corral"));
        let (process, _port) = CorralProcess::standalone(binary, data.path(), &extra)
            .unwrap_or_else(|e| panic!("corral server did not start: {e:#}"));
        Server {
            process,
            _data: data,
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.process.connect_string()
    }

    /// A connector with the tests' session timeout.
    pub fn connector() -> zk::Connector {
        zk::Client::connector().with_session_timeout(SESSION_TIMEOUT)
    }

    /// A new `zookeeper-client` session.
    pub async fn client(&self) -> zk::Client {
        self.connect(Server::connector()).await
    }

    /// A new `zookeeper-client` session made by `connector`.
    pub async fn connect(&self, connector: zk::Connector) -> zk::Client {
        within("zookeeper-client connect", connector.connect(&self.addr()))
            .await
            .expect("zookeeper-client connects")
    }

    /// A new session of our own raw client, for what `zookeeper-client` cannot send.
    pub async fn raw(&self) -> corral_client::Client {
        self.raw_with(corral_client::ConnectOptions::default())
            .await
    }

    pub async fn raw_with(&self, options: corral_client::ConnectOptions) -> corral_client::Client {
        within(
            "corral-client connect",
            corral_client::Client::connect(&self.addr(), options),
        )
        .await
        .expect("corral-client connects")
    }

    /// Sends a four-letter word and returns the whole answer.
    pub async fn four_letter(&self, word: &str) -> String {
        let mut stream = within("4lw connect", TcpStream::connect(self.addr()))
            .await
            .expect("4lw connect");
        within("4lw write", stream.write_all(word.as_bytes()))
            .await
            .expect("4lw write");
        let mut answer = Vec::new();
        within("4lw answer", stream.read_to_end(&mut answer))
            .await
            .expect("4lw read");
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// The server's total watch count, from `wchs`.
    pub async fn total_watches(&self) -> usize {
        let text = self.four_letter("wchs").await;
        text.lines()
            .find_map(|line| line.strip_prefix("Total watches:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("wchs answered {text:?}"))
    }

    /// Asserts the process is alive, answers `ruok`, and logged no panic.
    pub async fn assert_healthy(&mut self) {
        assert!(self.process.is_running(), "corral server exited");
        assert_eq!(self.four_letter("ruok").await, "imok");
        let log = std::fs::read_to_string(self.process.log_path()).unwrap_or_default();
        assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    }
}

/// Drops the last handle of `client` and waits until its session task has finished (state
/// Closed). Until then the task may still be flushing requests (a dropped watcher's
/// removeWatches) and, should its connection break meanwhile, reconnect to its session and
/// take it over from whoever resumed it.
pub async fn drop_and_wait_closed(client: zk::Client) {
    let mut state = client.state_watcher();
    drop(client);
    within("session task ends", async {
        let mut current = state.peek_state();
        while !current.is_terminated() {
            current = state.changed().await;
        }
        assert_eq!(current, zk::SessionState::Closed);
    })
    .await;
}

/// Names sorted, since ZooKeeper lists children in no defined order.
pub fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// Milliseconds since the epoch, to check ctime/mtime are wall-clock times.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Asserts that a freshly created node's stat is what ZooKeeper reports (§10 of the fact
/// sheet): every zxid the creating one, versions 0, times equal and recent.
pub fn assert_fresh_stat(stat: &zk::Stat, data_length: usize, ephemeral_owner: i64) {
    assert!(stat.czxid > 0, "{stat:?}");
    assert_eq!(stat.mzxid, stat.czxid, "{stat:?}");
    assert_eq!(stat.pzxid, stat.czxid, "{stat:?}");
    assert_eq!(stat.ctime, stat.mtime, "{stat:?}");
    assert!((stat.ctime - now_ms()).abs() < 60_000, "{stat:?}");
    assert_eq!(
        (stat.version, stat.cversion, stat.aversion),
        (0, 0, 0),
        "{stat:?}"
    );
    assert_eq!(stat.ephemeral_owner, ephemeral_owner, "{stat:?}");
    assert_eq!(stat.data_length, data_length as i32, "{stat:?}");
    assert_eq!(stat.num_children, 0, "{stat:?}");
}
