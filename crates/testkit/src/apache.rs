//! A real Apache ZooKeeper server (Debian's 3.8 jars) in standalone mode on 127.0.0.1.
//!
//! See `shared/reference/running-apache-zookeeper.md` for why the classpath and zoo.cfg look the
//! way they do (netty-codec missing from the jar's manifest, log4j needed for any log, the
//! AdminServer disabled, `clientPortAddress` to stay off other interfaces, ...).

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

use crate::process::{keep_dir, tail, wait_ready, Managed, NotReady};
use crate::{cfg_override, four_letter_word, render_cfg, try_free_port, DEFAULT_START_TIMEOUT};

/// Jars that must exist to run Apache ZooKeeper (Debian packages `libzookeeper-java` and
/// `libnetty-java`); the classpath starts with them in this order.
pub const APACHE_ZK_REQUIRED_JARS: [&str; 3] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/netty-codec.jar",
    "/usr/share/java/netty-resolver.jar",
];

/// Jars added to the classpath when both exist, so that the server writes a log (to its stdout
/// file, see [`ApacheZk::stdout_path`]).
pub const APACHE_ZK_OPTIONAL_JARS: [&str; 2] = [
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];

/// Jars ZooKeeper's AdminServer needs (Jetty, the servlet API, Jackson; Debian packages
/// `libjetty9-java`, `libservlet-api-java`, `libjackson2-*-java`): without them ZooKeeper
/// quietly runs no AdminServer.
pub const APACHE_ZK_ADMIN_JARS: [&str; 10] = [
    "/usr/share/java/jetty9-server.jar",
    "/usr/share/java/jetty9-servlet.jar",
    "/usr/share/java/jetty9-http.jar",
    "/usr/share/java/jetty9-io.jar",
    "/usr/share/java/jetty9-util.jar",
    "/usr/share/java/jetty9-security.jar",
    "/usr/share/java/servlet-api.jar",
    "/usr/share/java/jackson-databind.jar",
    "/usr/share/java/jackson-core.jar",
    "/usr/share/java/jackson-annotations.jar",
];

/// How many times [`ApacheZk::start`] tries a new port when the chosen one was taken meanwhile.
const BIND_ATTEMPTS: usize = 3;

/// Options for [`ApacheZk::start`]. `ApacheZkOptions::default()` gives a plain standalone server;
/// the `with_*` methods change one option each.
#[derive(Clone, Debug)]
pub struct ApacheZkOptions {
    /// `tickTime` in milliseconds (default 2000). Session timeouts are bounded to 2..20 ticks.
    pub tick_time_ms: u32,
    /// Adds `-Dzookeeper.extendedTypesEnabled=true` (TTL nodes). Default false.
    pub extended_types: bool,
    /// Adds `-Dzookeeper.DigestAuthenticationProvider.superDigest=<value>`; the value has the
    /// form `super:<base64 of sha1("super:<password>")>`. Default none.
    pub super_digest: Option<String>,
    /// The JVM heap limit given as `-Xmx<heap>` (default `512m`).
    pub heap: String,
    /// Extra `-Dkey=value` system properties for the JVM.
    pub system_properties: Vec<(String, String)>,
    /// Further raw JVM arguments, placed before `-cp`.
    pub jvm_flags: Vec<String>,
    /// zoo.cfg entries: an entry with the key of a default (e.g. `clientPort`) replaces it, the
    /// others are appended.
    pub extra_cfg: Vec<(String, String)>,
    /// log4j root level when log4j is available: `INFO` (default), `WARN`, ... Use `WARN` for
    /// benchmarks: at `INFO` every session is logged.
    pub log_level: String,
    /// How long to wait for `ruok`/`srvr` to report a serving standalone server (default 30 s).
    pub start_timeout: Duration,
    /// The `java` executable (default `java`, looked up on `PATH`).
    pub java: PathBuf,
    /// Run the AdminServer on 127.0.0.1 at this port (default: no AdminServer).
    pub admin_port: Option<u16>,
}

impl Default for ApacheZkOptions {
    fn default() -> Self {
        Self {
            tick_time_ms: 2000,
            extended_types: false,
            super_digest: None,
            heap: "512m".to_string(),
            system_properties: Vec::new(),
            jvm_flags: Vec::new(),
            extra_cfg: Vec::new(),
            log_level: "INFO".to_string(),
            start_timeout: DEFAULT_START_TIMEOUT,
            java: PathBuf::from("java"),
            admin_port: None,
        }
    }
}

impl ApacheZkOptions {
    /// Enables extended types (TTL and container-with-TTL nodes).
    pub fn with_extended_types(mut self) -> Self {
        self.extended_types = true;
        self
    }

    /// Sets the super user's digest, `super:<base64 sha1>`.
    pub fn with_super_digest(mut self, digest: impl Into<String>) -> Self {
        self.super_digest = Some(digest.into());
        self
    }

    /// Runs the AdminServer on 127.0.0.1:`port` (its jars, [`APACHE_ZK_ADMIN_JARS`], join the
    /// classpath; starting fails when one is missing).
    pub fn with_admin_server(mut self, port: u16) -> Self {
        self.admin_port = Some(port);
        self
    }

    /// Sets the heap limit, e.g. `"2g"`.
    pub fn with_heap(mut self, heap: impl Into<String>) -> Self {
        self.heap = heap.into();
        self
    }

    /// Sets `tickTime` in milliseconds.
    pub fn with_tick_time_ms(mut self, ms: u32) -> Self {
        self.tick_time_ms = ms;
        self
    }

    /// Adds a `-Dkey=value` JVM system property.
    pub fn with_system_property(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.system_properties.push((key.into(), value.into()));
        self
    }

    /// Adds a raw JVM argument.
    pub fn with_jvm_flag(mut self, flag: impl Into<String>) -> Self {
        self.jvm_flags.push(flag.into());
        self
    }

    /// Adds or overrides a zoo.cfg entry.
    pub fn with_cfg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_cfg.push((key.into(), value.into()));
        self
    }

    /// Sets the log4j level (`INFO`, `WARN`, `ERROR`, ...).
    pub fn with_log_level(mut self, level: impl Into<String>) -> Self {
        self.log_level = level.into();
        self
    }

    /// Sets how long [`ApacheZk::start`] waits for the server.
    pub fn with_start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }
}

/// Set (to anything but `0`) by README's test command, which installs Apache ZooKeeper: a test
/// that needs it then fails instead of skipping when it cannot run, so a broken install can
/// never turn the differential tests into silent passes.
pub const REQUIRE_APACHE_ZK_ENV: &str = "CORRAL_REQUIRE_APACHE_ZK";

/// For a test that needs Apache ZooKeeper: `true` when it can run here; otherwise prints
/// `SKIP: <test>: <reason>` and returns `false`, or panics when [`REQUIRE_APACHE_ZK_ENV`] is
/// set.
pub fn apache_zk_or_skip(test: &str) -> bool {
    let Err(reason) = apache_zk_available() else {
        return true;
    };
    let required = std::env::var(REQUIRE_APACHE_ZK_ENV).is_ok_and(|v| v != "0");
    assert!(
        !required,
        "{test}: Apache ZooKeeper is required ({REQUIRE_APACHE_ZK_ENV} is set) but cannot run: {reason}"
    );
    println!("SKIP: {test}: {reason}");
    false
}

/// Tells whether Apache ZooKeeper can run here: `java` answers `-version` and the jars of
/// [`APACHE_ZK_REQUIRED_JARS`] exist. The error is a reason fit for a `SKIP:` line.
pub fn apache_zk_available() -> Result<(), String> {
    java_works(Path::new("java"))?;
    apache_zk_classpath().map(|_| ())
}

/// The classpath used to run Apache ZooKeeper: the required jars, plus the optional log4j jars
/// when both exist. Errors name the missing jar.
pub fn apache_zk_classpath() -> Result<String, String> {
    let mut jars: Vec<&str> = Vec::new();
    for jar in APACHE_ZK_REQUIRED_JARS {
        if !Path::new(jar).is_file() {
            return Err(format!(
                "{jar} not found (run scripts/install-test-deps.sh to install Debian's \
                 zookeeper and libzookeeper-java)"
            ));
        }
        jars.push(jar);
    }
    if APACHE_ZK_OPTIONAL_JARS
        .iter()
        .all(|jar| Path::new(jar).is_file())
    {
        jars.extend(APACHE_ZK_OPTIONAL_JARS);
    }
    Ok(jars.join(":"))
}

fn java_works(java: &Path) -> Result<(), String> {
    match Command::new(java)
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{} -version` failed ({status})", java.display())),
        Err(e) => Err(format!(
            "cannot run `{}` ({e}); run scripts/install-test-deps.sh to install a JRE",
            java.display()
        )),
    }
}

/// A running Apache ZooKeeper standalone server listening on 127.0.0.1, in its own temporary
/// directory (zoo.cfg, `data/`, `stdout.log`, `stderr.log`). Killed (SIGKILL) and reaped on drop,
/// and the directory removed.
#[derive(Debug)]
pub struct ApacheZk {
    // Field order matters: the process dies before its directory is removed.
    process: Managed,
    port: u16,
    dir: tempfile::TempDir,
}

impl ApacheZk {
    /// Writes a zoo.cfg into a fresh temporary directory, starts
    /// `java ... org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg` and waits until `ruok`
    /// answers `imok` and `srvr` reports `Mode: standalone`.
    ///
    /// The client port is a free one unless `extra_cfg` sets `clientPort`; if the free port is
    /// taken before the server binds it, the start is retried with another. On failure the error
    /// includes the tail of the server's log.
    pub fn start(opts: ApacheZkOptions) -> anyhow::Result<ApacheZk> {
        java_works(&opts.java).map_err(|e| anyhow!("cannot start Apache ZooKeeper: {e}"))?;
        let mut classpath =
            apache_zk_classpath().map_err(|e| anyhow!("cannot start Apache ZooKeeper: {e}"))?;
        if opts.admin_port.is_some() {
            for jar in APACHE_ZK_ADMIN_JARS {
                if !Path::new(jar).is_file() {
                    bail!(
                        "cannot start Apache ZooKeeper's AdminServer: {jar} not found (run \
                         scripts/install-test-deps.sh)"
                    );
                }
                classpath.push(':');
                classpath.push_str(jar);
            }
        }
        if let Some(digest) = &opts.super_digest {
            if !digest.contains(':') {
                bail!("super_digest must look like `super:<base64 sha1>`, got {digest:?}");
            }
        }
        let fixed_port = match cfg_override(&opts.extra_cfg, "clientPort") {
            Some(p) => Some(
                p.trim()
                    .parse::<u16>()
                    .with_context(|| format!("extra_cfg clientPort={p:?} is not a port"))?,
            ),
            None => None,
        };
        let mut attempt = 1;
        loop {
            match Self::start_once(&opts, &classpath, fixed_port)? {
                Ok(zk) => return Ok(zk),
                Err(err) if fixed_port.is_none() && attempt < BIND_ATTEMPTS => {
                    attempt += 1;
                    drop(err); // port was taken by someone else: try another
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// One start. The outer error is fatal; the inner error means "the port was in use".
    fn start_once(
        opts: &ApacheZkOptions,
        classpath: &str,
        fixed_port: Option<u16>,
    ) -> anyhow::Result<anyhow::Result<ApacheZk>> {
        let dir = tempfile::Builder::new()
            .prefix("corral-apache-zk-")
            .tempdir()
            .context("creating a temporary directory for Apache ZooKeeper")?;
        let data_dir = dir.path().join("data");
        fs::create_dir(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        let port = match fixed_port {
            Some(p) => p,
            None => try_free_port().context("finding a free port")?,
        };

        let defaults = vec![
            ("tickTime".to_string(), opts.tick_time_ms.to_string()),
            ("dataDir".to_string(), data_dir.display().to_string()),
            ("clientPort".to_string(), port.to_string()),
            ("clientPortAddress".to_string(), "127.0.0.1".to_string()),
            ("maxClientCnxns".to_string(), "0".to_string()),
            ("4lw.commands.whitelist".to_string(), "*".to_string()),
            ("admin.enableServer".to_string(), "false".to_string()),
        ];
        let mut defaults = defaults;
        if let Some(admin_port) = opts.admin_port {
            // zoo.cfg keys become system properties after the command line's, so these win
            // over the -D that disables the AdminServer.
            defaults.retain(|(k, _)| k != "admin.enableServer");
            defaults.push(("admin.enableServer".to_string(), "true".to_string()));
            defaults.push(("admin.serverAddress".to_string(), "127.0.0.1".to_string()));
            defaults.push(("admin.serverPort".to_string(), admin_port.to_string()));
        }
        let cfg_path = dir.path().join("zoo.cfg");
        fs::write(&cfg_path, render_cfg(defaults, &opts.extra_cfg))
            .with_context(|| format!("writing {}", cfg_path.display()))?;

        let log4j_path = dir.path().join("log4j.properties");
        fs::write(&log4j_path, log4j_properties(&opts.log_level))
            .with_context(|| format!("writing {}", log4j_path.display()))?;

        let stdout_path = dir.path().join("stdout.log");
        let stderr_path = dir.path().join("stderr.log");
        let stdout = File::create(&stdout_path)
            .with_context(|| format!("creating {}", stdout_path.display()))?;
        let stderr = File::create(&stderr_path)
            .with_context(|| format!("creating {}", stderr_path.display()))?;

        let mut cmd = Command::new(&opts.java);
        cmd.arg(format!("-Xmx{}", opts.heap))
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                log4j_path.display()
            ))
            .arg("-Dzookeeper.admin.enableServer=false");
        if opts.extended_types {
            cmd.arg("-Dzookeeper.extendedTypesEnabled=true");
        }
        if let Some(digest) = &opts.super_digest {
            cmd.arg(format!(
                "-Dzookeeper.DigestAuthenticationProvider.superDigest={digest}"
            ));
        }
        for (k, v) in &opts.system_properties {
            cmd.arg(format!("-D{k}={v}"));
        }
        cmd.args(&opts.jvm_flags)
            .arg("-cp")
            .arg(classpath)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let mut process =
            Managed::spawn(cmd).with_context(|| format!("spawning `{}`", opts.java.display()))?;

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let ready = wait_ready(&mut process, opts.start_timeout, || {
            let ruok = four_letter_word(addr, "ruok").map_err(|e| format!("ruok: {e}"))?;
            if ruok != "imok" {
                return Err(format!("ruok answered {ruok:?}"));
            }
            let srvr = four_letter_word(addr, "srvr").map_err(|e| format!("srvr: {e}"))?;
            if !srvr.contains("Mode: standalone") {
                return Err(format!("srvr answered {:?}", srvr.trim()));
            }
            Ok(())
        });
        let zk = ApacheZk { process, port, dir };
        let Err(why) = ready else {
            return Ok(Ok(zk));
        };
        let ApacheZk {
            mut process, dir, ..
        } = zk;
        let _ = process.kill();
        drop(process);
        let log = format!(
            "[stdout]\n{}\n[stderr]\n{}",
            tail(&stdout_path, 40),
            tail(&stderr_path, 40)
        );
        let port_taken = matches!(why, NotReady::Exited(_))
            && (log.contains("Address already in use") || log.contains("BindException"));
        // Keep the directory of a real failure for inspection; a lost port race is retried.
        let dir_note = if port_taken {
            format!("{} (removed)", dir.path().display())
        } else {
            format!("{} (kept)", keep_dir(dir).display())
        };
        let err = anyhow!(
            "Apache ZooKeeper on 127.0.0.1:{port} did not start: {why}\n\
             command: {}\n--- log tail of {dir_note} ---\n{log}",
            command_line(opts, classpath, &cfg_path),
        );
        if port_taken {
            Ok(Err(err))
        } else {
            Err(err)
        }
    }

    /// The client address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connect string for clients, `127.0.0.1:<port>`.
    pub fn connect_string(&self) -> String {
        self.addr().to_string()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The server's temporary directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's `dataDir`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The zoo.cfg the server was started with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("zoo.cfg")
    }

    /// The server's stdout, which holds its log4j log.
    pub fn stdout_path(&self) -> PathBuf {
        self.dir.path().join("stdout.log")
    }

    /// The server's stderr (JVM errors).
    pub fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// The last `lines` lines of the server's stdout and of its stderr.
    pub fn log_tail(&self, lines: usize) -> String {
        format!(
            "[stdout]\n{}\n[stderr]\n{}",
            tail(&self.stdout_path(), lines),
            tail(&self.stderr_path(), lines)
        )
    }

    /// Sends a four-letter word to the server (see [`crate::four_letter_word`]).
    pub fn four_letter_word(&self, cmd: &str) -> std::io::Result<String> {
        four_letter_word(self.addr(), cmd)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.try_status(), Ok(None))
    }

    /// Kills the server with SIGKILL and reaps it. Harmless if it already exited. The temporary
    /// directory stays until the value is dropped.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.process
            .kill()
            .map(|_| ())
            .with_context(|| format!("killing Apache ZooKeeper (pid {})", self.pid()))
    }
}

fn log4j_properties(level: &str) -> String {
    format!(
        "log4j.rootLogger={level}, CONSOLE\n\
         log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n\
         log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.CONSOLE.layout.ConversionPattern=%d{{ISO8601}} %-5p [%t:%C{{1}}@%L] - %m%n\n"
    )
}

fn command_line(opts: &ApacheZkOptions, classpath: &str, cfg: &Path) -> String {
    format!(
        "{} -Xmx{} ... -cp {classpath} org.apache.zookeeper.server.quorum.QuorumPeerMain {}",
        opts.java.display(),
        opts.heap,
        cfg.display()
    )
}
