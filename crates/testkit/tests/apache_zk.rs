//! Runs Debian's Apache ZooKeeper through [`ApacheZk`] when it is installed
//! (`scripts/install-test-deps.sh`); prints `SKIP: <reason>` and passes otherwise (fails
//! instead under README's test command, which sets `CORRAL_REQUIRE_APACHE_ZK`).

use corral_testkit::{apache_zk_or_skip, four_letter_word, ApacheZk, ApacheZkOptions};

fn available() -> bool {
    apache_zk_or_skip("apache_zk")
}

#[test]
fn apache_zk_starts_answers_and_stops() {
    if !available() {
        return;
    }
    let mut zk = ApacheZk::start(ApacheZkOptions::default()).expect("Apache ZooKeeper starts");
    let addr = zk.addr();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_eq!(zk.port(), addr.port());

    assert_eq!(four_letter_word(addr, "ruok").unwrap(), "imok");
    let srvr = zk.four_letter_word("srvr").unwrap();
    println!("srvr of Apache ZooKeeper on {addr}:\n{srvr}");
    assert!(srvr.contains("Zookeeper version: 3."), "{srvr}");
    assert!(srvr.contains("Mode: standalone"), "{srvr}");

    // The log4j log lands in stdout.log when the log4j jars are installed.
    let cfg = std::fs::read_to_string(zk.config_path()).unwrap();
    assert!(cfg.contains("clientPortAddress=127.0.0.1\n"), "{cfg}");
    assert!(cfg.contains("admin.enableServer=false\n"), "{cfg}");

    assert!(zk.is_running());
    zk.kill().unwrap();
    assert!(!zk.is_running());
    zk.kill().unwrap(); // idempotent
    assert!(
        four_letter_word(addr, "ruok").is_err(),
        "nothing should answer on {addr} after kill"
    );
}

#[test]
fn apache_zk_options_reach_the_server() {
    if !available() {
        return;
    }
    let opts = ApacheZkOptions::default()
        .with_extended_types()
        // super:test (digest of "super:test")
        .with_super_digest("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
        .with_heap("256m")
        .with_tick_time_ms(500)
        .with_system_property("zookeeper.corral.testkit", "yes")
        .with_cfg("maxSessionTimeout", "7000")
        .with_log_level("WARN");
    let zk = ApacheZk::start(opts).expect("Apache ZooKeeper starts with options");
    let conf = zk.four_letter_word("conf").unwrap();
    assert!(conf.contains("tickTime=500"), "{conf}");
    assert!(conf.contains("maxSessionTimeout=7000"), "{conf}");
    let envi = zk.four_letter_word("envi").unwrap();
    assert!(envi.contains("java.version="), "{envi}");
    let pid = zk.pid();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    for flag in [
        "-Xmx256m",
        "-Dzookeeper.extendedTypesEnabled=true",
        "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
        "-Dzookeeper.corral.testkit=yes",
    ] {
        assert!(cmdline.contains(flag), "{flag} missing from {cmdline}");
    }
    drop(zk);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the JVM should be reaped on drop"
    );
}

#[test]
fn apache_zk_start_failure_shows_the_log() {
    if !available() {
        return;
    }
    let err = ApacheZk::start(
        ApacheZkOptions::default()
            .with_cfg("tickTime", "not-a-number")
            .with_start_timeout(std::time::Duration::from_secs(20)),
    )
    .expect_err("a bad zoo.cfg must fail");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(msg.contains("did not start"), "{msg}");
    assert!(msg.contains("exited early"), "{msg}");
    assert!(msg.contains("log tail"), "{msg}");
    assert!(
        msg.contains("not-a-number"),
        "the log should name the bad value: {msg}"
    );
    // The failed server's directory is kept for inspection; remove it here.
    if let Some(kept) = msg
        .split("log tail of ")
        .nth(1)
        .and_then(|rest| rest.split(" (kept)").next())
    {
        assert!(kept.contains("corral-apache-zk-"), "{kept}");
        std::fs::remove_dir_all(kept).unwrap();
    }
}
