//! ZooKeeper four-letter words (`ruok`, `srvr`, `stat`, `mntr`, ...) over plain TCP.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The whole-exchange timeout used by [`four_letter_word`].
pub const FOUR_LETTER_WORD_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to `addr`, writes the four bytes of `cmd`, reads the answer until the server closes
/// the connection and returns it (lossily decoded as UTF-8). The whole exchange is bounded by
/// [`FOUR_LETTER_WORD_TIMEOUT`] (5 s).
///
/// Errors: `InvalidInput` when `cmd` is not exactly four ASCII bytes, `TimedOut` when the deadline
/// passes, or the connection's own error.
pub fn four_letter_word(addr: SocketAddr, cmd: &str) -> io::Result<String> {
    four_letter_word_with_timeout(addr, cmd, FOUR_LETTER_WORD_TIMEOUT)
}

/// [`four_letter_word`] with a caller-chosen bound on the whole exchange.
pub fn four_letter_word_with_timeout(
    addr: SocketAddr,
    cmd: &str,
    timeout: Duration,
) -> io::Result<String> {
    if cmd.len() != 4 || !cmd.is_ascii() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a four-letter word must be 4 ASCII bytes, got {cmd:?}"),
        ));
    }
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_write_timeout(Some(remaining(deadline, addr, cmd)?))?;
    stream.write_all(cmd.as_bytes())?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(remaining(deadline, addr, cmd)?))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A server that resets the connection right after answering still answered.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && !answer.is_empty() => break,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out(addr, cmd));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn remaining(deadline: Instant, addr: SocketAddr, cmd: &str) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(timed_out(addr, cmd))
    } else {
        Ok(left)
    }
}

fn timed_out(addr: SocketAddr, cmd: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("four-letter word {cmd:?} to {addr}: no complete answer in time"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};
    use std::thread;

    /// A one-connection server: reads 4 bytes, hands them to `answer`, writes the reply, closes.
    fn one_shot_server(answer: fn(&[u8]) -> Vec<u8>) -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut cmd = [0u8; 4];
            conn.read_exact(&mut cmd).unwrap();
            conn.write_all(&answer(&cmd)).unwrap();
            cmd.to_vec()
        });
        (addr, handle)
    }

    #[test]
    fn ruok_gets_imok() {
        let (addr, server) = one_shot_server(|cmd| {
            if cmd == b"ruok" {
                b"imok".to_vec()
            } else {
                Vec::new()
            }
        });
        assert_eq!(four_letter_word(addr, "ruok").unwrap(), "imok");
        assert_eq!(server.join().unwrap(), b"ruok");
    }

    #[test]
    fn multi_chunk_answer_is_read_to_eof() {
        let (addr, server) = one_shot_server(|_| {
            let mut s = String::from("Zookeeper version: 3.8.0\n");
            for i in 0..2000 {
                s.push_str(&format!("zk_line_{i}\t{i}\n"));
            }
            s.into_bytes()
        });
        let answer = four_letter_word(addr, "mntr").unwrap();
        assert!(answer.starts_with("Zookeeper version: 3.8.0\n"));
        assert!(answer.ends_with("zk_line_1999\t1999\n"));
        assert_eq!(server.join().unwrap(), b"mntr");
    }

    #[test]
    fn rejects_words_that_are_not_four_bytes() {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
        for bad in ["ruo", "ruokk", "", "ruö"] {
            let err = four_letter_word(addr, bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn silent_server_times_out() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let started = Instant::now();
        let err =
            four_letter_word_with_timeout(addr, "ruok", Duration::from_millis(300)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(listener);
    }

    #[test]
    fn closed_port_is_an_error() {
        let port = crate::free_port();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(four_letter_word(addr, "ruok").is_err());
    }
}
