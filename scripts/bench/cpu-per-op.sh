#!/usr/bin/env bash
# Server CPU time per write: a fresh `corral server` (fsync on), a populated tree, then setData at
# sessions x in-flight for a while; prints ops/s, p99, the server's CPU microseconds per op
# (user + system, from /proc/<pid>/stat) and the snapshots it wrote meanwhile.
#
# Why: ops/s on this shared 2-core VM swings 10-20 % from run to run; CPU per op swings less,
# so it is the better figure for an A/B of two builds of the write path. Run it a few times per
# binary, alternating. For a comparison with ZooKeeper use compare.sh.
#
# Usage: scripts/bench/cpu-per-op.sh [--bin PATH] [--nodes N] [--seconds S] [--snap-count N]
#                                    [--sessions N] [--in-flight N]
#   --bin PATH        corral binary (default: target/release/corral, built if missing)
#   --nodes N         znodes populated first (default 850000; fan-out 10, 100-byte data)
#   --seconds S       measured seconds of setData (default 15)
#   --snap-count N    the server's snapCount (default ZooKeeper's 100000)
#   --sessions N, --in-flight N   load shape (default 64 x 8)

set -euo pipefail

BIN=""
NODES=850000
SECONDS_RUN=15
SNAP_COUNT=100000
SESSIONS=64
IN_FLIGHT=8
while (($#)); do
	case "$1" in
	--bin) BIN="${2:?}" && shift ;;
	--nodes) NODES="${2:?}" && shift ;;
	--seconds) SECONDS_RUN="${2:?}" && shift ;;
	--snap-count) SNAP_COUNT="${2:?}" && shift ;;
	--sessions) SESSIONS="${2:?}" && shift ;;
	--in-flight) IN_FLIGHT="${2:?}" && shift ;;
	-h | --help)
		sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) echo "cpu-per-op.sh: unknown argument $1 (see --help)" >&2 && exit 2 ;;
	esac
	shift
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -z "$BIN" ]]; then
	BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/corral"
	[[ -x "$BIN" ]] || (cd "$REPO" && cargo build --release --locked -p corral)
fi

WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/corral-cpu-per-op.XXXXXX")"
SERVER_PID=""
cleanup() {
	if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$WORKDIR"
}
trap cleanup EXIT

PORT=""
for _ in $(seq 1 100); do
	candidate=$((20000 + RANDOM % 40000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
		PORT=$candidate
		break
	fi
done
[[ -n "$PORT" ]] || { echo "cpu-per-op.sh: no free port" >&2 && exit 1; }

mkdir -p "$WORKDIR/data"
cat >"$WORKDIR/zoo.cfg" <<EOF
tickTime=2000
dataDir=$WORKDIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
forceSync=yes
maxClientCnxns=0
snapCount=$SNAP_COUNT
4lw.commands.whitelist=*
admin.enableServer=false
EOF
"$BIN" server --config "$WORKDIR/zoo.cfg" >"$WORKDIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.1
done

ADDR="corral=127.0.0.1:$PORT"
"$BIN" bench populate --addr "$ADDR" --nodes "$NODES" --fanout 10 --value-bytes 100 >/dev/null

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
snapshots() { grep -c "snapshot written" "$WORKDIR/server.log" || true; }
ticks_before="$(cpu_ticks)"
snaps_before="$(snapshots)"
"$BIN" bench --addr "$ADDR" --sessions "$SESSIONS" --in-flight "$IN_FLIGHT" --ops set \
	--duration-s "$SECONDS_RUN" --warmup-s 0 --value-bytes 100 --json >"$WORKDIR/bench.json"
ticks_after="$(cpu_ticks)"
snaps_after="$(snapshots)"

read -r ops ops_s p99_ms < <(jq -r '.results[0] | [.ops, .ops_per_s, (.latency.p99_us / 1000)] | @tsv' \
	"$WORKDIR/bench.json")
awk -v ops="$ops" -v rate="$ops_s" -v p99="$p99_ms" -v t0="$ticks_before" -v t1="$ticks_after" \
	-v hz="$(getconf CLK_TCK)" -v snaps=$((snaps_after - snaps_before)) -v nodes="$NODES" \
	'BEGIN { printf "%d znodes, setData %s: %.0f ops/s, p99 %.2f ms, server CPU %.2f us/op, %d snapshots\n",
		nodes, "'"${SESSIONS}x${IN_FLIGHT}"'", rate, p99, (t1 - t0) / hz * 1e6 / ops, snaps }'
