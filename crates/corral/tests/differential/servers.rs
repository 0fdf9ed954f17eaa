//! The two servers under comparison: one Apache ZooKeeper 3.8 (Debian's jars) and one Corral,
//! started once per test process with the same settings and shared by every test function.
//!
//! Both get extended types (TTL nodes), the same super digest, a short tick (so that a session
//! with a short timeout expires within about a second) but a long maximum session timeout (so
//! that ordinary sessions never expire under load), no fsync (speed; durability is not what
//! these tests compare) and a container/TTL reaper interval far beyond a test run, so reaping
//! never deletes a node on one server and not yet on the other in the middle of a sequence.
//!
//! Statics are never dropped, so an `atexit` hook kills both servers and removes their
//! directories when the test process exits (on Linux they would also die with the process
//! through the testkit's parent-death signal, but their temporary directories would stay).

use std::path::Path;
use std::sync::{Mutex, Once, OnceLock};
use std::time::Instant;

use base64::Engine;
use corral_testkit::{
    apache_zk_available, apache_zk_or_skip, ApacheZk, ApacheZkOptions, CorralProcess,
};
use sha1::{Digest, Sha1};

/// The super user's password; `addauth digest super:<this>` makes a connection `super`.
pub const SUPER_PASSWORD: &str = "superpw";
/// `tickTime` of both servers.
pub const TICK_MS: u32 = 100;
/// `minSessionTimeout` / `maxSessionTimeout` of both servers.
pub const MIN_SESSION_TIMEOUT_MS: i32 = 200;
pub const MAX_SESSION_TIMEOUT_MS: i32 = 60_000;
/// The container/TTL reaper interval: longer than any test run.
pub const REAPER_INTERVAL_MS: &str = "3600000";

/// `user:BASE64(SHA1("user:password"))`, the digest id of a `digest` login.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or_default();
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

pub fn super_digest() -> String {
    digest_id(&format!("super:{SUPER_PASSWORD}"))
}

/// Client addresses of one server pair.
#[derive(Debug, Clone)]
pub struct Targets {
    pub zk: String,
    pub corral: String,
}

/// What a started pair owns; dropping it kills both servers and removes their directories.
struct Owned {
    _zk: ApacheZk,
    _corral: CorralProcess,
    _data: tempfile::TempDir,
}

static SHARED: OnceLock<Result<Option<Targets>, String>> = OnceLock::new();
static OWNED: Mutex<Vec<Owned>> = Mutex::new(Vec::new());
static ATEXIT: Once = Once::new();

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

extern "C" fn stop_all() {
    let owned = match OWNED.lock() {
        Ok(mut guard) => std::mem::take(&mut *guard),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    drop(owned);
    let alone = match CORRAL_ALONE.lock() {
        Ok(mut guard) => std::mem::take(&mut *guard),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    drop(alone);
}

/// The shared pair, or `None` (after printing `SKIP: <reason>`) when Apache ZooKeeper cannot
/// run here. Panics when the servers exist but fail to start.
pub fn shared(test: &str) -> Option<Targets> {
    let shared = SHARED.get_or_init(|| match apache_zk_available() {
        Err(_) => Ok(None),
        Ok(()) => start_pair().map(Some),
    });
    match shared {
        Ok(Some(targets)) => Some(targets.clone()),
        Ok(None) => {
            apache_zk_or_skip(test);
            None
        }
        Err(e) => panic!("cannot start the servers for the differential tests: {e}"),
    }
}

static CORRAL_ONLY: OnceLock<Result<String, String>> = OnceLock::new();

/// A Corral address for tests of Corral's own (3.9) behaviour: the shared pair's Corral when
/// Apache ZooKeeper can run here, otherwise a Corral started alone with the same settings (so
/// these tests run even where the differential ones are skipped).
pub fn corral(test: &str) -> String {
    if apache_zk_available().is_ok() {
        return shared(test).expect("Apache ZooKeeper is available").corral;
    }
    let started = CORRAL_ONLY.get_or_init(|| {
        ATEXIT.call_once(register_atexit);
        let data = tempfile::Builder::new()
            .prefix("corral-differential-")
            .tempdir()
            .map_err(|e| format!("temporary data dir: {e}"))?;
        let (corral, _) = start_corral(data.path())?;
        let addr = corral.connect_string();
        CORRAL_ALONE
            .lock()
            .map_err(|_| "server registry poisoned".to_owned())?
            .push((corral, data));
        Ok(addr)
    });
    match started {
        Ok(addr) => addr.clone(),
        Err(e) => panic!("cannot start Corral: {e}"),
    }
}

static CORRAL_ALONE: Mutex<Vec<(CorralProcess, tempfile::TempDir)>> = Mutex::new(Vec::new());

fn register_atexit() {
    // SAFETY: registers a plain function with no captured state; it only drops values this
    // module owns.
    let rc = unsafe { atexit(stop_all) };
    assert_eq!(rc, 0, "atexit registration failed");
}

/// A pair of its own, fresh, for a test that needs an untouched tree (built-in nodes). It is
/// stopped when the process exits, like the shared pair.
pub fn fresh(test: &str) -> Option<Targets> {
    if !apache_zk_or_skip(test) {
        return None;
    }
    match start_pair() {
        Ok(targets) => Some(targets),
        Err(e) => panic!("cannot start a fresh server pair: {e}"),
    }
}

fn start_pair() -> Result<Targets, String> {
    ATEXIT.call_once(register_atexit);
    let started = Instant::now();
    let zk_thread = std::thread::spawn(start_apache);
    let data = tempfile::Builder::new()
        .prefix("corral-differential-")
        .tempdir()
        .map_err(|e| format!("temporary data dir: {e}"))?;
    let corral = start_corral(data.path());
    let zk = zk_thread
        .join()
        .map_err(|_| "the Apache ZooKeeper start thread panicked".to_owned())?;
    let (zk, (corral, _)) = (zk?, corral?);
    let targets = Targets {
        zk: zk.connect_string(),
        corral: corral.connect_string(),
    };
    eprintln!(
        "differential: Apache ZooKeeper on {}, Corral on {} (started in {:?})",
        targets.zk,
        targets.corral,
        started.elapsed()
    );
    OWNED
        .lock()
        .map_err(|_| "server registry poisoned".to_owned())?
        .push(Owned {
            _zk: zk,
            _corral: corral,
            _data: data,
        });
    Ok(targets)
}

fn start_apache() -> Result<ApacheZk, String> {
    ApacheZk::start(apache_options()).map_err(|e| format!("{e:#}"))
}

/// Apache ZooKeeper's settings in these tests, standalone or as each server of an ensemble.
pub fn apache_options() -> ApacheZkOptions {
    ApacheZkOptions::default()
        .with_extended_types()
        .with_super_digest(super_digest())
        .with_tick_time_ms(TICK_MS)
        .with_log_level("WARN")
        .with_heap("256m")
        .with_system_property("znode.container.checkIntervalMs", REAPER_INTERVAL_MS)
        .with_cfg("minSessionTimeout", MIN_SESSION_TIMEOUT_MS.to_string())
        .with_cfg("maxSessionTimeout", MAX_SESSION_TIMEOUT_MS.to_string())
        .with_cfg("forceSync", "no")
        .with_cfg("preAllocSize", "1024")
}

fn start_corral(data_dir: &Path) -> Result<(CorralProcess, u16), String> {
    let cfg: Vec<(String, String)> = [
        ("tickTime", TICK_MS.to_string()),
        ("minSessionTimeout", MIN_SESSION_TIMEOUT_MS.to_string()),
        ("maxSessionTimeout", MAX_SESSION_TIMEOUT_MS.to_string()),
        ("forceSync", "no".to_owned()),
        ("extendedTypesEnabled", "true".to_owned()),
        ("DigestAuthenticationProvider.superDigest", super_digest()),
        (
            "znode.container.checkIntervalMs",
            REAPER_INTERVAL_MS.to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    CorralProcess::standalone(Path::new(env!("CARGO_BIN_EXE_corral")), data_dir, &cfg)
        .map_err(|e| format!("{e:#}"))
}
