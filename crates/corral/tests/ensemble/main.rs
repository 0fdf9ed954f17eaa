//! Corral ensembles of real processes on 127.0.0.1, started from ordinary zoo.cfg files with
//! `server.N` lines and `myid`, under faults: partitions and one-way loss through a proxy per
//! peer link, SIGKILL and restart, an observer, session expiry across a leader change.
//! Client histories are recorded and checked with `corral-history`.
//!
//! - `cluster`: the harness (processes, per-link proxies, roles from `srvr`).
//! - `workload`: the recorded, reconnecting client workload and its final checks.
//! - `basic`: writes from any server, the leader SIGKILLed, a restarted server catching up.
//! - `partitions`: the leader isolated, a follower isolated, one-way loss.
//! - `crashes`: SIGKILL of the leader and of a follower under the workload, restarts.
//! - `observer`: an observer serving reads and forwarding writes.
//! - `sessions`: ephemerals across a leader change, expiry of a dead client's session.
//!
//! Run: `cargo test -p corral --test ensemble` (a failing history is written to a kept
//! directory whose path the failure prints).

mod basic;
mod cluster;
mod crashes;
mod observer;
mod partitions;
mod sessions;
mod workload;
