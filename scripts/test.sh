#!/usr/bin/env bash
# Runs every test Corral has, from a bare Debian machine: installs what the tests need
# (Apache ZooKeeper from Debian's packages for the differential tests, a Python venv with
# kazoo for the recipe tests), checks formatting and lints, then runs the Rust test suite
# (unit, golden, property/fuzz, real-client, differential, crash tests) and the kazoo suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# A clean machine gains nothing from incremental compilation, and its files were half of a
# clean build's target directory (CI has run out of disk space with them).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "== installing test dependencies"
bash scripts/install-test-deps.sh

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
# ZooKeeper was installed above: a test that needs it fails rather than skips if it cannot run.
export CORRAL_REQUIRE_APACHE_ZK=1
# The property tests (our fuzzing of decoders and apply) run a bounded number of cases.
export PROPTEST_CASES="${PROPTEST_CASES:-512}"
cargo test --workspace --locked

echo "== kazoo recipes against corral server"
# `cargo test` above built the server binary for the integration tests; building it alone
# (`cargo build -p corral`) would resolve other dependency features and compile a second copy
# of half the dependency tree.
CORRAL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/corral"
test -x "$CORRAL_BIN" || { echo "missing $CORRAL_BIN after cargo test" >&2; exit 1; }
CORRAL_BIN="$CORRAL_BIN" "${CORRAL_VENV:-$PWD/.venv}/bin/python" -m pytest -q tests/kazoo

echo "== all tests passed"
