//! Integration tests of `corral-storage`, in one binary to keep link time down.

mod common;
mod suite;
mod recovery;
mod faults;
mod group_commit;
mod snapshot;
mod fuzz;
