//! A raw client session that leaves something for the operator view to show: a data watch on
//! `/zookeeper` and an ephemeral node `/admin-eph`, held until dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Session {
    _stream: TcpStream,
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as i32).to_be_bytes());
    out.extend_from_slice(s);
}

fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).unwrap();
    body
}

impl Session {
    pub fn open(addr: SocketAddr) -> Session {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        // ConnectRequest: protocol 0, lastZxid 0, timeout 30 s, session 0, 16-byte password.
        let mut connect = Vec::new();
        connect.extend_from_slice(&0i32.to_be_bytes());
        connect.extend_from_slice(&0i64.to_be_bytes());
        connect.extend_from_slice(&30_000i32.to_be_bytes());
        connect.extend_from_slice(&0i64.to_be_bytes());
        string(&mut connect, &[0u8; 16]);
        connect.push(0);
        stream.write_all(&frame(&connect)).unwrap();
        read_frame(&mut stream);
        // getData(/zookeeper, watch) as xid 1.
        let mut get = Vec::new();
        get.extend_from_slice(&1i32.to_be_bytes());
        get.extend_from_slice(&4i32.to_be_bytes());
        string(&mut get, b"/zookeeper");
        get.push(1);
        stream.write_all(&frame(&get)).unwrap();
        read_frame(&mut stream);
        // create(/admin-eph, "x", world:anyone ALL, EPHEMERAL) as xid 2.
        let mut create = Vec::new();
        create.extend_from_slice(&2i32.to_be_bytes());
        create.extend_from_slice(&1i32.to_be_bytes());
        string(&mut create, b"/admin-eph");
        string(&mut create, b"x");
        create.extend_from_slice(&1i32.to_be_bytes());
        create.extend_from_slice(&31i32.to_be_bytes());
        string(&mut create, b"world");
        string(&mut create, b"anyone");
        create.extend_from_slice(&1i32.to_be_bytes());
        stream.write_all(&frame(&create)).unwrap();
        read_frame(&mut stream);
        Session { _stream: stream }
    }
}
