//! Child-process plumbing shared by [`crate::ApacheZk`] and [`crate::CorralProcess`]: spawning
//! (with a parent-death signal on Linux), signals, bounded waits and log tails.

use std::ffi::c_int;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const SIGKILL: c_int = 9;
const SIGTERM: c_int = 15;

extern "C" {
    /// POSIX `kill(2)`; std's `Child::kill` only sends SIGKILL.
    fn kill(pid: c_int, sig: c_int) -> c_int;
}

#[cfg(target_os = "linux")]
extern "C" {
    fn prctl(option: c_int, ...) -> c_int;
}

/// A spawned server process that is killed and reaped when dropped.
#[derive(Debug)]
pub(crate) struct Managed {
    child: Child,
    /// Set once the child has been reaped, so that its pid is never signalled again (it may have
    /// been reused).
    status: Option<ExitStatus>,
}

impl Managed {
    /// Spawns `cmd`. On Linux the child gets SIGKILL when the test process dies. The spawn happens
    /// on a helper thread that lives as long as the process, because the kernel sends the
    /// parent-death signal when the *thread* that forked exits, and libtest runs each test on a
    /// thread of its own.
    pub(crate) fn spawn(mut cmd: Command) -> io::Result<Self> {
        set_parent_death_signal(&mut cmd);
        let child = spawn_on_helper_thread(cmd)?;
        Ok(Self {
            child,
            status: None,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has exited (reaping it), `None` while it runs.
    pub(crate) fn try_status(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// SIGKILL, then reap. Returns the exit status; harmless when it already exited.
    pub(crate) fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_status()? {
            return Ok(status);
        }
        self.signal(SIGKILL)?;
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }

    /// SIGTERM, then wait up to `grace` for the process to exit. Returns `Ok(Ok(status))` when it
    /// exited in time, `Ok(Err(status))` when it had to be killed with SIGKILL after `grace`.
    pub(crate) fn terminate(
        &mut self,
        grace: Duration,
    ) -> io::Result<Result<ExitStatus, ExitStatus>> {
        if let Some(status) = self.try_status()? {
            return Ok(Ok(status));
        }
        self.signal(SIGTERM)?;
        let deadline = Instant::now() + grace;
        loop {
            if let Some(status) = self.try_status()? {
                return Ok(Ok(status));
            }
            if Instant::now() >= deadline {
                return self.kill().map(Err);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&mut self, sig: c_int) -> io::Result<()> {
        let pid = c_int::try_from(self.child.id())
            .map_err(|_| io::Error::other(format!("pid {} out of range", self.child.id())))?;
        // SAFETY: kill(2) has no memory-safety preconditions. The child is not reaped yet (checked
        // by the callers through `try_status`), so `pid` still names it and not a reused pid.
        if unsafe { kill(pid, sig) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    const PR_SET_PDEATHSIG: c_int = 1;
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec; it only calls prctl(2) and
    // getppid(2), both async-signal-safe, and allocates nothing (`io::Error::from(kind)` and
    // `last_os_error` do not allocate).
    unsafe {
        cmd.pre_exec(move || {
            if prctl(PR_SET_PDEATHSIG, SIGKILL as std::ffi::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would kill us.
            if std::os::unix::process::parent_id() != parent {
                return Err(io::Error::from(io::ErrorKind::Other));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_cmd: &mut Command) {}

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` on a process-lifetime helper thread (see [`Managed::spawn`]); falls back to the
/// calling thread if that thread cannot be started.
fn spawn_on_helper_thread(mut cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Option<Mutex<mpsc::Sender<SpawnJob>>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        thread::Builder::new()
            .name("corral-testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .ok()
            .map(|_| Mutex::new(tx))
    });
    let Some(spawner) = spawner else {
        return cmd.spawn();
    };
    let (reply_tx, reply_rx) = mpsc::channel();
    let sent = spawner
        .lock()
        .map_err(|_| io::Error::other("spawner lock poisoned"))?
        .send((cmd, reply_tx));
    match sent {
        Ok(()) => reply_rx
            .recv()
            .map_err(|_| io::Error::other("spawner thread is gone"))?,
        // The helper thread is gone (it never panics, but be safe): spawn here instead.
        Err(mpsc::SendError((mut cmd, _))) => cmd.spawn(),
    }
}

/// Why a server did not become ready.
#[derive(Debug)]
pub(crate) enum NotReady {
    /// The process exited first.
    Exited(ExitStatus),
    /// The deadline passed; the last probe's complaint.
    TimedOut(String),
    /// The process's state could not be read.
    Io(io::Error),
}

/// Polls `probe` until it succeeds, the process exits, or `timeout` passes.
pub(crate) fn wait_ready(
    proc: &mut Managed,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<(), String>,
) -> Result<(), NotReady> {
    let deadline = Instant::now() + timeout;
    loop {
        match proc.try_status() {
            Ok(Some(status)) => return Err(NotReady::Exited(status)),
            Ok(None) => {}
            Err(e) => return Err(NotReady::Io(e)),
        }
        let why = match probe() {
            Ok(()) => return Ok(()),
            Err(why) => why,
        };
        if Instant::now() >= deadline {
            return Err(NotReady::TimedOut(why));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Exited(status) => write!(f, "the process exited early ({status})"),
            NotReady::TimedOut(last) => write!(f, "not ready in time (last probe: {last})"),
            NotReady::Io(e) => write!(f, "cannot check the process: {e}"),
        }
    }
}

/// Turns `dir` into a directory that is not removed on drop (kept for post-mortem inspection).
pub(crate) fn keep_dir(dir: tempfile::TempDir) -> PathBuf {
    dir.keep()
}

/// The last `lines` lines of the file at `path` (reading at most its last 64 KiB), or a note
/// saying why it could not be read.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    const MAX: u64 = 64 * 1024;
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn tail_takes_last_lines() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for i in 0..100 {
            writeln!(f, "line {i}").unwrap();
        }
        assert_eq!(tail(f.path(), 2), "line 98\nline 99");
        assert!(tail(Path::new("/nonexistent/x.log"), 5).starts_with("<cannot read"));
    }

    #[test]
    fn kill_and_terminate_reap() {
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        let mut p = Managed::spawn(cmd).unwrap();
        assert!(p.try_status().unwrap().is_none());
        let status = p.terminate(Duration::from_secs(5)).unwrap().unwrap();
        assert_eq!(status.signal(), Some(SIGTERM));
        // Idempotent after exit.
        assert_eq!(p.kill().unwrap().signal(), Some(SIGTERM));

        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        let mut p = Managed::spawn(cmd).unwrap();
        assert_eq!(p.kill().unwrap().signal(), Some(SIGKILL));
    }

    #[test]
    fn terminate_escalates_to_kill() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "trap '' TERM; while :; do sleep 0.1; done"]);
        let mut p = Managed::spawn(cmd).unwrap();
        thread::sleep(Duration::from_millis(200)); // let the shell install its trap
        let killed = p
            .terminate(Duration::from_millis(300))
            .unwrap()
            .unwrap_err();
        assert_eq!(killed.signal(), Some(SIGKILL));
    }

    #[test]
    fn wait_ready_reports_early_exit() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 3"]);
        let mut p = Managed::spawn(cmd).unwrap();
        match wait_ready(&mut p, Duration::from_secs(10), || Err("no".into())) {
            Err(NotReady::Exited(s)) => assert_eq!(s.code(), Some(3)),
            other => panic!("unexpected {other:?}"),
        }
    }
}
