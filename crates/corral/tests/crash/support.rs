//! The server under test, seeds, bounded waits, and what a killed server left on disk.

use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corral_client::{Client, ClientError, ConnectOptions, Reply};
use corral_testkit::CorralProcess;

/// Longest wait for one client call (connect, request) in the checks.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Requested session timeout: the server's minimum with tickTime=2000, so sessions of killed
/// clients expire soon after a restart instead of piling up.
pub const SESSION_TIMEOUT_MS: i32 = 4000;

/// The `corral` binary cargo built for this test target.
pub fn corral_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_corral"))
}

/// The seed for `test`: `CRASH_SEED` when set (to replay a failure), otherwise fresh. Printed
/// either way, so a failing run's output says how to replay it.
pub fn seed_for(test: &str) -> u64 {
    let seed = match std::env::var("CRASH_SEED") {
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("CRASH_SEED={text:?} is not a u64")),
        Err(_) => {
            let mut hasher = DefaultHasher::new();
            test.hash(&mut hasher);
            std::process::id().hash(&mut hasher);
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
                .hash(&mut hasher);
            hasher.finish() % 1_000_000_000
        }
    };
    println!("{test}: seed {seed} (replay with CRASH_SEED={seed} cargo test -p corral --test crash {test})");
    seed
}

/// A data directory (and, optionally, a separate dataLogDir) and the server process currently
/// running on it (if any). The directories are kept (and their path printed) when the test
/// panics.
pub struct Node {
    /// Holds `data/` and, with a separate dataLogDir, `log/`.
    root: Option<tempfile::TempDir>,
    separate_log_dir: bool,
    extra_cfg: Vec<(String, String)>,
    process: Option<CorralProcess>,
    /// The log tail of the previous (killed) process, for failure messages.
    pub previous_log: String,
}

impl Node {
    /// A node with a fresh data directory and these zoo.cfg keys on top of the testkit's; with
    /// `separate_log_dir`, zoo.cfg's `dataLogDir` is a directory of its own.
    pub fn new(extra_cfg: &[(&str, &str)], separate_log_dir: bool) -> Node {
        let root = tempfile::Builder::new()
            .prefix("corral-crash-")
            .tempdir()
            .expect("creating a data directory");
        let mut node = Node {
            root: Some(root),
            separate_log_dir,
            extra_cfg: extra_cfg
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            process: None,
            previous_log: String::new(),
        };
        if separate_log_dir {
            let log_dir = node.log_dir().display().to_string();
            node.extra_cfg.push(("dataLogDir".to_string(), log_dir));
        }
        node
    }

    fn root(&self) -> PathBuf {
        self.root
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_else(|| PathBuf::from("/nonexistent"))
    }

    /// The dataDir (holds `corral-snapshots/`).
    pub fn data_dir(&self) -> PathBuf {
        self.root().join("data")
    }

    /// The dataLogDir (holds `corral-log/`): the dataDir unless separate.
    pub fn log_dir(&self) -> PathBuf {
        if self.separate_log_dir {
            self.root().join("log")
        } else {
            self.data_dir()
        }
    }

    /// Arguments naming the directories for `corral data inspect|dump`.
    pub fn data_args(&self) -> Vec<String> {
        let mut args = vec![self.data_dir().display().to_string()];
        if self.separate_log_dir {
            args.push("--log-dir".to_string());
            args.push(self.log_dir().display().to_string());
        }
        args
    }

    /// Starts the server on the data directory (a fresh port each time) and waits for `imok`.
    pub fn start(&mut self) -> Result<(), String> {
        assert!(self.process.is_none(), "server already running");
        let (process, _port) =
            CorralProcess::standalone(&corral_bin(), &self.data_dir(), &self.extra_cfg)
                .map_err(|e| format!("{e:#}"))?;
        self.process = Some(process);
        Ok(())
    }

    /// Starts the server directly (not through the testkit, which waits for `imok`) and
    /// SIGKILLs it `delay` later: a crash during start-up (recovery, the election, the first
    /// writes of a pristine directory), whatever phase `delay` lands in.
    pub fn kill_during_startup(&self, delay: Duration) -> Result<(), String> {
        assert!(self.process.is_none(), "server already running");
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let port = corral_testkit::try_free_port().map_err(|e| format!("free port: {e}"))?;
        let mut cfg = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n",
            self.data_dir().display()
        );
        for (key, value) in &self.extra_cfg {
            cfg.push_str(&format!("{key}={value}\n"));
        }
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, cfg).map_err(|e| format!("zoo.cfg: {e}"))?;
        let mut child = Command::new(corral_bin())
            .arg("server")
            .arg("--config")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning corral: {e}"))?;
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().map_err(|e| format!("reaping corral: {e}"))?;
        Ok(())
    }

    /// The running server's client address.
    pub fn addr(&self) -> String {
        self.process
            .as_ref()
            .map(|p| p.connect_string())
            .unwrap_or_default()
    }

    /// The running server's log tail.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process
            .as_ref()
            .map(|p| p.log_tail(lines))
            .unwrap_or_default()
    }

    /// The running server's whole log.
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p.log_path()).ok())
            .unwrap_or_default()
    }

    /// SIGKILL (a crash, as far as the server can tell), reaped.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            self.previous_log = process.log_tail(30);
            process.kill().expect("SIGKILL the server");
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> Result<(), String> {
        let Some(mut process) = self.process.take() else {
            return Ok(());
        };
        let status = process.terminate().map_err(|e| format!("{e:#}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "server exited with {status} after SIGTERM\n{}",
                process.log_tail(30)
            ))
        }
    }

    /// The four-letter word `ruok` against the running server.
    pub fn ruok(&self) -> String {
        self.process
            .as_ref()
            .map(|p| p.four_letter_word("ruok").unwrap_or_else(|e| e.to_string()))
            .unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
        }
        if std::thread::panicking() {
            if let Some(mut dir) = self.root.take() {
                dir.disable_cleanup(true);
                eprintln!(
                    "data directory kept for inspection: {}",
                    dir.path().display()
                );
            }
        }
    }
}

/// What a killed server left in its directories, seen before the restart repairs it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Leftovers {
    /// An unfinished snapshot (`snapshot-*.tmp`): the kill landed while a snapshot was written.
    pub snapshot_tmp: bool,
    /// An unfinished segment (`log-*.seg.tmp`): the kill landed during a rollover.
    pub segment_tmp: bool,
    /// Segment files present.
    pub segments: usize,
}

/// Looks at the directories of a killed server.
pub fn leftovers(node: &Node) -> Leftovers {
    let names = |dir: PathBuf| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let snapshots = names(node.data_dir().join("corral-snapshots"));
    let log = names(node.log_dir().join("corral-log"));
    Leftovers {
        snapshot_tmp: snapshots
            .iter()
            .any(|n| n.starts_with("snapshot-") && n.ends_with(".tmp")),
        segment_tmp: log.iter().any(|n| n.ends_with(".seg.tmp")),
        segments: log.iter().filter(|n| n.ends_with(".seg")).count(),
    }
}

/// Runs `corral data <args>` and returns its output.
pub fn corral_data<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(corral_bin())
        .arg("data")
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running corral data")
}

/// Runs a future with [`CALL_TIMEOUT`].
pub async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(CALL_TIMEOUT, future)
        .await
        .map_err(|_| format!("{what}: no answer within {CALL_TIMEOUT:?}"))
}

/// Connects a client with the crash tests' options.
pub async fn connect(addr: &str) -> Result<Client, ClientError> {
    let options = ConnectOptions {
        timeout_ms: SESSION_TIMEOUT_MS,
        ..ConnectOptions::default()
    };
    Client::connect(addr, options).await
}

/// One request with [`CALL_TIMEOUT`]; a transport error or timeout is a failure of the check.
pub async fn call(
    what: &str,
    future: impl Future<Output = Result<Reply, ClientError>>,
) -> Result<Reply, String> {
    bounded(what, future)
        .await?
        .map_err(|e| format!("{what}: {e}"))
}
