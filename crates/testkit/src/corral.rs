//! A Corral server process started from its executable, for integration tests.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

use crate::process::{keep_dir, tail, wait_ready, Managed, NotReady};
use crate::{cfg_override, four_letter_word, render_cfg, try_free_port, DEFAULT_START_TIMEOUT};

/// How many times [`CorralProcess::standalone`] tries a new port when the chosen one was taken.
const BIND_ATTEMPTS: usize = 3;

/// A running Corral server: its stdout and stderr go to one log file in a temporary directory of
/// its own ([`CorralProcess::log_path`]). Killed (SIGKILL) and reaped on drop, and the directory
/// removed.
#[derive(Debug)]
pub struct CorralProcess {
    // Field order matters: the process dies before its directory is removed.
    process: Managed,
    port: u16,
    config: Option<PathBuf>,
    dir: tempfile::TempDir,
}

impl CorralProcess {
    /// How long [`CorralProcess::terminate`] waits after SIGTERM before it kills the process.
    pub const TERMINATE_GRACE: Duration = Duration::from_secs(10);

    /// Starts `binary` with `args`, its environment plus `env`, and waits (up to
    /// [`DEFAULT_START_TIMEOUT`]) until the `ruok` four-letter word on 127.0.0.1:`port` answers
    /// `imok`. `port` is the client port that `args` make the server listen on.
    ///
    /// On failure (the process exits or stays silent) the error includes the tail of its log, and
    /// the log's directory is kept.
    pub fn start(
        binary: &Path,
        args: &[String],
        env: &[(String, String)],
        port: u16,
    ) -> anyhow::Result<CorralProcess> {
        Self::start_with_timeout(binary, args, env, port, DEFAULT_START_TIMEOUT)
    }

    /// [`CorralProcess::start`] with a caller-chosen bound on the wait for `imok`.
    pub fn start_with_timeout(
        binary: &Path,
        args: &[String],
        env: &[(String, String)],
        port: u16,
        timeout: Duration,
    ) -> anyhow::Result<CorralProcess> {
        let dir = new_dir()?;
        launch(binary, args, env, port, timeout, dir, None)?
    }

    /// Writes a standalone zoo.cfg (`tickTime=2000`, `dataDir=<data_dir>`, a free `clientPort`,
    /// `clientPortAddress=127.0.0.1`, `maxClientCnxns=0`, `4lw.commands.whitelist=*`,
    /// `admin.enableServer=false`, then
    /// `extra_cfg`, whose entries replace defaults of the same key) into the process's temporary
    /// directory, runs `<binary> server --config <cfg>` and waits until it answers `imok`.
    /// Returns the process and its client port.
    ///
    /// With a `clientPort` in `extra_cfg` that port is used (e.g. to restart on the same port);
    /// otherwise a free port is picked, and another one tried if the server reports that it was
    /// taken meanwhile.
    pub fn standalone(
        binary: &Path,
        data_dir: &Path,
        extra_cfg: &[(String, String)],
    ) -> anyhow::Result<(CorralProcess, u16)> {
        let fixed_port = match cfg_override(extra_cfg, "clientPort") {
            Some(p) => Some(
                p.trim()
                    .parse::<u16>()
                    .with_context(|| format!("extra_cfg clientPort={p:?} is not a port"))?,
            ),
            None => None,
        };
        let mut attempt = 1;
        loop {
            let dir = new_dir()?;
            let port = match fixed_port {
                Some(p) => p,
                None => try_free_port().context("finding a free port")?,
            };
            let defaults = vec![
                ("tickTime".to_string(), "2000".to_string()),
                ("dataDir".to_string(), data_dir.display().to_string()),
                ("clientPort".to_string(), port.to_string()),
                ("clientPortAddress".to_string(), "127.0.0.1".to_string()),
                ("maxClientCnxns".to_string(), "0".to_string()),
                ("4lw.commands.whitelist".to_string(), "*".to_string()),
                // The AdminServer's default port, 8080, would clash between parallel tests.
                ("admin.enableServer".to_string(), "false".to_string()),
            ];
            let cfg = dir.path().join("zoo.cfg");
            fs::write(&cfg, render_cfg(defaults, extra_cfg))
                .with_context(|| format!("writing {}", cfg.display()))?;
            let args = [
                "server".to_string(),
                "--config".to_string(),
                cfg.display().to_string(),
            ];
            match launch(
                binary,
                &args,
                &[],
                port,
                DEFAULT_START_TIMEOUT,
                dir,
                Some(cfg),
            )? {
                Ok(p) => return Ok((p, port)),
                Err(_) if fixed_port.is_none() && attempt < BIND_ATTEMPTS => attempt += 1,
                Err(err) => return Err(err),
            }
        }
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The connect string for clients, `127.0.0.1:<port>`.
    pub fn connect_string(&self) -> String {
        self.addr().to_string()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The temporary directory holding the log (and, for [`CorralProcess::standalone`], the
    /// zoo.cfg); removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The zoo.cfg written by [`CorralProcess::standalone`], `None` for [`CorralProcess::start`].
    pub fn config_path(&self) -> Option<&Path> {
        self.config.as_deref()
    }

    /// The file receiving the process's stdout and stderr.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("corral.log")
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path(), lines)
    }

    /// Sends a four-letter word to the server (see [`crate::four_letter_word`]).
    pub fn four_letter_word(&self, cmd: &str) -> std::io::Result<String> {
        four_letter_word(self.addr(), cmd)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.try_status(), Ok(None))
    }

    /// Kills the process with SIGKILL (a crash, as far as the server can tell) and reaps it.
    /// Returns its exit status; harmless if it already exited.
    pub fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        self.process
            .kill()
            .with_context(|| format!("killing corral (pid {})", self.pid()))
    }

    /// Sends SIGTERM and waits up to [`CorralProcess::TERMINATE_GRACE`] for the process to exit,
    /// returning its exit status. If it does not exit in time it is killed with SIGKILL and an
    /// error (with the log's tail) is returned.
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let pid = self.pid();
        match self
            .process
            .terminate(Self::TERMINATE_GRACE)
            .with_context(|| format!("terminating corral (pid {pid})"))?
        {
            Ok(status) => Ok(status),
            Err(_) => bail!(
                "corral (pid {pid}) did not exit within {:?} of SIGTERM and was killed\n\
                 --- log tail ({}) ---\n{}",
                Self::TERMINATE_GRACE,
                self.log_path().display(),
                self.log_tail(40)
            ),
        }
    }
}

fn new_dir() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("corral-process-")
        .tempdir()
        .context("creating a temporary directory for a corral process")
}

/// Spawns and waits for `imok`. The outer error is fatal; the inner one means the server exited
/// reporting that its address was in use (the caller may retry on another port).
fn launch(
    binary: &Path,
    args: &[String],
    env: &[(String, String)],
    port: u16,
    timeout: Duration,
    dir: tempfile::TempDir,
    config: Option<PathBuf>,
) -> anyhow::Result<anyhow::Result<CorralProcess>> {
    let log_path = dir.path().join("corral.log");
    let log =
        File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let log2 = log
        .try_clone()
        .with_context(|| format!("duplicating {}", log_path.display()))?;
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    let mut process = Managed::spawn(cmd).with_context(|| {
        format!(
            "spawning {} (is the path right? integration tests get it from \
             env!(\"CARGO_BIN_EXE_corral\"))",
            binary.display()
        )
    })?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let ready = wait_ready(&mut process, timeout, || {
        match four_letter_word(addr, "ruok") {
            Ok(answer) if answer == "imok" => Ok(()),
            Ok(answer) => Err(format!("ruok answered {answer:?}")),
            Err(e) => Err(format!("ruok: {e}")),
        }
    });
    let Err(why) = ready else {
        return Ok(Ok(CorralProcess {
            process,
            port,
            config,
            dir,
        }));
    };
    let _ = process.kill();
    drop(process);
    let log = tail(&log_path, 40);
    let port_taken = matches!(why, NotReady::Exited(_))
        && log.to_ascii_lowercase().contains("address already in use");
    let dir_note = if port_taken {
        format!("{} (removed)", dir.path().display())
    } else {
        format!("{} (kept)", keep_dir(dir).display())
    };
    let command = std::iter::once(binary.display().to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let err = anyhow!(
        "corral on 127.0.0.1:{port} did not start: {why}\ncommand: {command}\n\
         --- log tail of {dir_note} ---\n{log}"
    );
    if port_taken {
        Ok(Err(err))
    } else {
        Err(err)
    }
}
