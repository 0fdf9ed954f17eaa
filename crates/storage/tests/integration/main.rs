//! Integration tests of `corral-storage`, in one binary to keep link time down.

mod common;
mod crash;
mod faults;
mod fuzz;
mod group_commit;
mod inline_writer;
mod recovery;
mod snapshot;
mod suite;
