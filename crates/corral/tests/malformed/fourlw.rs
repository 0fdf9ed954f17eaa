//! Four-letter words over raw TCP: the whitelist, answers in ZooKeeper's formats, and the
//! ways a client can get them wrong (split, truncated, unknown, after a handshake).

use crate::support::*;

#[tokio::test]
async fn four_letter_words_and_their_whitelist() {
    let mut target = Target::with_cfg(&[("4lw.commands.whitelist", "ruok, srvr, stmk")]).await;
    let addr = target.addr();

    assert_eq!(target.four_letter(b"ruok").await, "imok");
    let srvr = target.four_letter(b"srvr").await;
    assert!(srvr.starts_with("Zookeeper version: "), "{srvr}");
    assert!(srvr.contains("\nMode: standalone\n"), "{srvr}");
    assert!(srvr.contains("\nNode count: "), "{srvr}");
    for word in [
        "mntr", "stat", "cons", "conf", "envi", "dump", "wchs", "crst", "isro",
    ] {
        assert_eq!(
            target.four_letter(word.as_bytes()).await,
            format!("{word} is not executed because it is not in the whitelist.\n"),
        );
    }

    // Extra bytes after the word are ignored; the word may arrive in pieces.
    assert_eq!(target.four_letter(b"ruokruokruok").await, "imok");
    let mut raw = Raw::connect(&addr).await;
    raw.send(b"ru").await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    raw.send(b"ok").await;
    assert_eq!(raw.read_to_close().await, b"imok");

    // stmk waits for its 8-byte argument; a client that never sends it is just closed.
    for partial in [&b"stmk"[..], b"stmk\0\0\0"] {
        let mut raw = Raw::connect(&addr).await;
        raw.send(partial).await;
        raw.shutdown_write().await;
        raw.expect_silent_close("stmk without its argument").await;
        target.bystander_works("stmk without its argument").await;
    }

    // Four bytes that are no word are a frame length: unknown words, upper case, the telnet
    // close sequence, a word cut short.
    for (case, bytes) in [
        ("unknown word", &b"xyzw"[..]),
        ("upper case", b"RUOK"),
        ("telnet IAC IP IAC DO", &[0xff, 0xf4, 0xff, 0xfd]),
    ] {
        let mut raw = Raw::connect(&addr).await;
        raw.send(bytes).await;
        raw.expect_silent_close(case).await;
    }
    let mut raw = Raw::connect(&addr).await;
    raw.send(b"ruo").await;
    raw.shutdown_write().await;
    raw.expect_silent_close("three letters").await;

    // After a handshake a word is only a (too long) frame length.
    let mut raw = Raw::session(&addr).await;
    raw.send(b"ruok").await;
    raw.expect_silent_close("ruok after the handshake").await;
    target.assert_healthy().await;
}
