#!/usr/bin/env bash
# Corral against Apache ZooKeeper 3.8 standalone on this machine, in one run, with the same load
# generators on both (`corral bench`, on Corral's own client, and `zkload`, on the
# `zookeeper-client` crate, a client Corral did not write) and fsync on both:
#
#   (a) the raw fdatasync rate of the disk holding the data directories (the bound of durable
#       write throughput for one client with one request in flight);
#   (b) create and set throughput and p99 at 1x1, 16x1 and 64x8 (sessions x in flight), and get
#       at 1x1 and 64x8, both servers side by side (workloads interleaved); once with each load
#       generator of --loadgen, zkload's table with p99.9 and the server's CPU time per op
#       (user + system from /proc/<pid>/stat);
#   (c) a tree of --nodes znodes (100-byte data, fan-out 10) populated into fresh servers, then
#       the resident set (VmRSS) of each server process; ZooKeeper twice: with the JVM's default
#       heap and with just enough -Xmx (found by starting from its live heap after a full GC and
#       stepping up until populate and restart both succeed);
#   (d) the size of the newest snapshot holding the whole tree;
#   (e) restart time with that tree: SIGTERM (SIGKILL after a grace period), start again, time
#       until `srvr` reports the whole tree; once with the tree in the log, once from a
#       snapshot;
#   (f) setData at 64x8 on that tree (Corral and ZooKeeper with the default heap), once it is
#       loaded again: both servers then snapshot the same large tree every ~snapCount writes,
#       which (b) does not show alike (there each tree is as big as its own create run made it).
#
# Usage: scripts/bench/compare.sh [--quick] [--out results.md] [options]
#   --quick            100,000 znodes and 3 s runs: checks the script end to end
#   --out FILE         also write the markdown table to FILE
#   --nodes N          znodes to populate (default 1000000; --quick 100000)
#   --seconds S        measured seconds per workload (default 10; --quick 3)
#   --warmup S         unmeasured seconds before each (default 2; --quick 1)
#   --workdir DIR      where data directories and logs go (default: a new dir under $TMPDIR
#                      or /tmp; that disk is the one the fsync probe measures)
#   --corral-bin PATH  use this corral binary instead of building one
#   --loadgen WHICH    load generator(s) for (b): corral, zkload or both (default both, or
#                      $LOADGEN); both adds about (seconds + warmup + 2) x 16 s to the run;
#                      (c)-(f) use `corral bench` whatever this says (populate, setData on the
#                      big tree)
#   --zkload-bin PATH  use this zkload binary (default: beside the corral binary, built with
#                      it when missing)
#   --throughput-only  (a) and (b) only: no big tree, no heap search (to check the load
#                      generators quickly)
#   --keep             keep the work directory (logs, data) at the end
#   --zk-heap-from MB  start the search for just enough -Xmx here instead of at 1.1 x the live
#                      heap measured with the default heap
#
# Builds `cargo build --release -p corral` (and `-p corral-zkload`; honours CARGO_TARGET_DIR). Needs Debian's Apache
# ZooKeeper jars (scripts/install-test-deps.sh), java, jq, and jcmd for the heap search.
# Every server runs on 127.0.0.1 on a free port with maxClientCnxns=0, and every process the
# script starts is killed at exit, whatever the exit.

set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Options

QUICK=0
THROUGHPUT_ONLY=0
OUT=""
NODES=""
SECONDS_RUN=""
WARMUP=""
WORKDIR=""
CORRAL_BIN=""
ZKLOAD_BIN=""
LOADGEN="${LOADGEN:-both}"
KEEP=0
HEAP_FROM=""
FANOUT=10
VALUE_BYTES=100
POP_SESSIONS=8

# The script's own stderr, kept apart so that messages (and the exit trap's) reach it even from
# inside a function call whose stderr is redirected to a file.
exec {LOG_FD}>&2

die() {
	echo "compare.sh: $*" >&"$LOG_FD"
	exit 1
}

while (($#)); do
	case "$1" in
	--quick) QUICK=1 ;;
	--out) OUT="${2:?--out needs a file}" && shift ;;
	--out=*) OUT="${1#*=}" ;;
	--nodes) NODES="${2:?--nodes needs a number}" && shift ;;
	--seconds) SECONDS_RUN="${2:?--seconds needs a number}" && shift ;;
	--warmup) WARMUP="${2:?--warmup needs a number}" && shift ;;
	--workdir) WORKDIR="${2:?--workdir needs a directory}" && shift ;;
	--corral-bin) CORRAL_BIN="${2:?--corral-bin needs a path}" && shift ;;
	--zkload-bin) ZKLOAD_BIN="${2:?--zkload-bin needs a path}" && shift ;;
	--loadgen) LOADGEN="${2:?--loadgen needs corral, zkload or both}" && shift ;;
	--throughput-only) THROUGHPUT_ONLY=1 ;;
	--keep) KEEP=1 ;;
	--zk-heap-from) HEAP_FROM="${2:?--zk-heap-from needs a size in MB}" && shift ;;
	-h | --help)
		sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done

if ((QUICK)); then
	: "${NODES:=100000}" "${SECONDS_RUN:=3}" "${WARMUP:=1}"
else
	: "${NODES:=1000000}" "${SECONDS_RUN:=10}" "${WARMUP:=2}"
fi
if ! [[ "$NODES" =~ ^[0-9]+$ ]] || ((NODES == 0)); then die "--nodes must be a positive integer"; fi
case "$LOADGEN" in
corral | zkload | both) ;;
*) die "--loadgen (or LOADGEN) must be corral, zkload or both, not $LOADGEN" ;;
esac
# uses GEN: whether load generator GEN (corral or zkload) runs in (b)
uses() { [[ "$LOADGEN" == both || "$LOADGEN" == "$1" ]]; }
FSYNC_SECONDS="$SECONDS_RUN"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

ZK_JARS=(/usr/share/java/zookeeper.jar /usr/share/java/netty-codec.jar /usr/share/java/netty-resolver.jar)
ZK_LOG_JARS=(/usr/share/java/slf4j-log4j12.jar /usr/share/java/log4j-1.2.jar)

# ---------------------------------------------------------------------------------------------
# Process bookkeeping: every pid started here, killed at exit.

PIDS=()
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	local pid
	for pid in "${PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	if [[ -n "${WORKDIR_MADE:-}" ]]; then
		if ((KEEP)) || ((status != 0)); then
			echo "compare.sh: work directory kept: $WORKDIR" >&"$LOG_FD"
		else
			rm -rf "$WORKDIR"
		fi
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&"$LOG_FD"; }

now_ns() { date +%s%N; }

# seconds between two now_ns stamps, 2 decimals
elapsed_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

# Runs a command in the background (so traps fire at once) and waits for it, for at most
# $1 seconds: then SIGTERM, and SIGKILL 5 s later. Returns the command's status (124 on timeout).
run_bounded() {
	local limit=$1
	shift
	"$@" &
	local pid=$!
	PIDS+=("$pid")
	local deadline=$((SECONDS + limit))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "timeout after ${limit}s: $*"
			kill -TERM "$pid" 2>/dev/null || true
			local grace=$((SECONDS + 5))
			while kill -0 "$pid" 2>/dev/null && ((SECONDS < grace)); do sleep 0.2; done
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			return 124
		fi
		sleep 0.2
	done
	local status=0
	wait "$pid" || status=$?
	return "$status"
}

# ---------------------------------------------------------------------------------------------
# Ports and four-letter words

# free_port: sets FREE_PORT to a port nobody listens on and this script has not used yet
USED_PORTS=" "
FREE_PORT=""
free_port() {
	local port
	for _ in $(seq 1 200); do
		port=$((20000 + RANDOM % 40000))
		[[ "$USED_PORTS" == *" $port "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			USED_PORTS+="$port "
			FREE_PORT=$port
			return 0
		fi
	done
	die "no free port found"
}

# fourlw PORT WORD: the server's answer, empty when it does not answer within 1 s
fourlw() {
	# shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
	timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%s" "$2" >&3 && cat <&3' \
		_ "$1" "$2" 2>/dev/null || true
}

# node_count PORT: `srvr`'s Node count, empty while the server does not serve
node_count() { fourlw "$1" srvr | awk '/^Node count:/ { print $3 }'; }

# wait_nodes PORT PID MIN LIMIT_S: waits until the server reports at least MIN nodes
wait_nodes() {
	local port=$1 pid=$2 min=$3 limit=$4
	local deadline=$((SECONDS + limit)) count
	while ((SECONDS < deadline)); do
		kill -0 "$pid" 2>/dev/null || return 1
		count="$(node_count "$port")"
		if [[ -n "$count" ]] && ((count >= min)); then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# rss_mb PID [field]: VmRSS (or another /proc/<pid>/status field) in MB
rss_mb() {
	awk -v f="${2:-VmRSS}:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Servers. These functions set globals (SERVER_PID, SERVER_PORT, STOPPED_BY, RESTART_S) rather
# than print them, so that they never run in a subshell: the script must stay the parent of every
# server it starts, to track, reap and kill it. A server's configuration stays in its directory,
# so a restart reuses it.

SERVER_PID=""
SERVER_PORT=""
STOPPED_BY=""
RESTART_S=""

write_common_cfg() { # DIR PORT
	cat >"$1/zoo.cfg" <<-EOF
		tickTime=2000
		dataDir=$1/data
		clientPort=$2
		clientPortAddress=127.0.0.1
		maxClientCnxns=0
		4lw.commands.whitelist=*
		admin.enableServer=false
		forceSync=yes
	EOF
}

# launch_corral DIR: starts corral on DIR/zoo.cfg (no wait)
launch_corral() {
	"$CORRAL" server --config "$1/zoo.cfg" --log warn >>"$1/server.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
}

# launch_zk DIR: starts ZooKeeper on DIR/zoo.cfg with the heap in DIR/heap (empty: JVM default)
launch_zk() {
	local heap
	heap="$(cat "$1/heap")"
	local args=()
	[[ -n "$heap" ]] && args+=("-Xmx$heap")
	args+=(-XX:+ExitOnOutOfMemoryError "-Dlog4j.configuration=file:$1/log4j.properties"
		-Dzookeeper.admin.enableServer=false -cp "$ZK_CP"
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$1/zoo.cfg")
	java "${args[@]}" >>"$1/server.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
}

# start_server KIND DIR [ZK heap]: a fresh server in DIR on a free port; sets SERVER_PID and
# SERVER_PORT. Retries with another port when the chosen one was taken meanwhile.
start_server() {
	local kind=$1 dir=$2 heap=${3:-}
	local attempt port
	for attempt in 1 2 3; do
		rm -rf "$dir"
		mkdir -p "$dir/data"
		free_port
		port=$FREE_PORT
		write_common_cfg "$dir" "$port"
		if [[ "$kind" == zk ]]; then
			printf '%s' "$heap" >"$dir/heap"
			printf '%s\n' "log4j.rootLogger=WARN, CONSOLE" \
				"log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender" \
				"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout" \
				"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n" \
				>"$dir/log4j.properties"
			launch_zk "$dir"
		else
			launch_corral "$dir"
		fi
		if wait_nodes "$port" "$SERVER_PID" 1 60; then
			SERVER_PORT=$port
			return 0
		fi
		stop_server "$SERVER_PID"
		if ! grep -q -i -E "address already in use|BindException" "$dir/server.log"; then
			log "$kind in $dir did not start (attempt $attempt); log tail:"
			tail -n 20 "$dir/server.log" >&"$LOG_FD"
			return 1
		fi
	done
	return 1
}

# stop_server PID: SIGTERM, SIGKILL after 60 s; sets STOPPED_BY to "term" or "kill"
stop_server() {
	local pid=$1 deadline=$((SECONDS + 60))
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		STOPPED_BY="kill"
	else
		STOPPED_BY="term"
	fi
	wait "$pid" 2>/dev/null || true
}

# restart KIND DIR PORT PID MIN: stops the server, starts it again on the same configuration and
# times it until it reports MIN nodes. Sets SERVER_PID, STOPPED_BY and RESTART_S.
restart() {
	local kind=$1 dir=$2 port=$3 pid=$4 min=$5 t0 t1
	stop_server "$pid"
	log "$kind stopped ($STOPPED_BY); starting it again"
	t0="$(now_ns)"
	if [[ "$kind" == zk ]]; then launch_zk "$dir"; else launch_corral "$dir"; fi
	if ! wait_nodes "$port" "$SERVER_PID" "$min" 600; then
		log "$kind did not come back with $min nodes; log tail:"
		tail -n 20 "$dir/server.log" >&"$LOG_FD"
		return 1
	fi
	t1="$(now_ns)"
	RESTART_S="$(elapsed_s "$t0" "$t1")"
}

# ---------------------------------------------------------------------------------------------
# Results

declare -A R=()

fmt() { # VALUE PRINTF-FORMAT: the value formatted, or a dash when empty
	if [[ -z "$1" ]]; then echo "—"; else awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; fi
}
ratio() { # A B: A/B with 2 decimals, or a dash
	if [[ -z "$1" || -z "$2" ]]; then echo "—"; else awk -v a="$1" -v b="$2" \
		'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f", a / b }'; fi
}

# ---------------------------------------------------------------------------------------------
# Preflight

command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
command -v java >/dev/null || die "java is needed (scripts/install-test-deps.sh)"
for jar in "${ZK_JARS[@]}"; do
	[[ -f "$jar" ]] || die "$jar not found (scripts/install-test-deps.sh installs Debian's zookeeper)"
done
ZK_CP="$(
	IFS=:
	echo "${ZK_JARS[*]}"
)"
if [[ -f "${ZK_LOG_JARS[0]}" && -f "${ZK_LOG_JARS[1]}" ]]; then
	ZK_CP+=":${ZK_LOG_JARS[0]}:${ZK_LOG_JARS[1]}"
fi
HAVE_JCMD=0
command -v jcmd >/dev/null && HAVE_JCMD=1

if [[ -z "$CORRAL_BIN" ]]; then
	log "building: cargo build --release -p corral -p corral-zkload"
	(cd "$REPO" && cargo build --release -p corral -p corral-zkload) >&2
	CORRAL="${CARGO_TARGET_DIR:-$REPO/target}/release/corral"
else
	CORRAL="$CORRAL_BIN"
fi
[[ -x "$CORRAL" ]] || die "no corral binary at $CORRAL"
ZKLOAD="${ZKLOAD_BIN:-$(dirname "$CORRAL")/zkload}"
if uses zkload && [[ ! -x "$ZKLOAD" && -z "$ZKLOAD_BIN" ]]; then
	log "building: cargo build --release -p corral-zkload"
	(cd "$REPO" && cargo build --release -p corral-zkload) >&2
	ZKLOAD="${CARGO_TARGET_DIR:-$REPO/target}/release/zkload"
fi
uses zkload && { [[ -x "$ZKLOAD" ]] || die "no zkload binary at $ZKLOAD"; }

if [[ -z "$WORKDIR" ]]; then
	WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/corral-compare.XXXXXX")"
else
	mkdir -p "$WORKDIR"
	WORKDIR="$(cd "$WORKDIR" && pwd)"
	[[ -z "$(ls -A "$WORKDIR")" ]] || die "--workdir $WORKDIR is not empty"
fi
WORKDIR_MADE=1

ZK_DEFAULT_HEAP_MB="$(java -XX:+PrintFlagsFinal -version 2>/dev/null |
	awk '$2 == "MaxHeapSize" { printf "%.0f", $4 / 1048576 }')"
ZK_VERSION="$(unzip -p /usr/share/java/zookeeper.jar META-INF/MANIFEST.MF 2>/dev/null |
	awk -F': ' '/^Implementation-Version/ { gsub("\r", "", $2); print $2 }' || true)"
JAVA_VERSION="$(java -version 2>&1 | head -n 1)"
CORRAL_REV="$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
DISK="$(df -P "$WORKDIR" | awk 'NR == 2 { print $1 }') ($(stat -f -c %T "$WORKDIR"))"

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "work directory $WORKDIR on $DISK; $NODES znodes; ${SECONDS_RUN}s runs"

# ---------------------------------------------------------------------------------------------
# (a) fsync

log "(a) fsync probe for 2 x ${FSYNC_SECONDS}s in $WORKDIR"
run_bounded $((FSYNC_SECONDS * 2 + 60)) "$CORRAL" bench fsync --dir "$WORKDIR" \
	--seconds "$FSYNC_SECONDS" --value-bytes "$VALUE_BYTES" --json >"$WORKDIR/fsync.json"
for how in append preallocated; do
	R[fsync.$how]="$(jq -r ".fsync.$how.syncs_per_s" "$WORKDIR/fsync.json")"
	R[fsync.$how.p50]="$(jq -r ".fsync.$how.latency.p50_us / 1000" "$WORKDIR/fsync.json")"
	R[fsync.$how.p99]="$(jq -r ".fsync.$how.latency.p99_us / 1000" "$WORKDIR/fsync.json")"
done
log "fsync: $(fmt "${R[fsync.append]}" %.0f)/s appending, $(fmt "${R[fsync.preallocated]}" %.0f)/s preallocated"

# ---------------------------------------------------------------------------------------------
# (b) throughput, side by side

log "(b) throughput: starting Corral and ZooKeeper (default heap)"
start_server corral "$WORKDIR/tp-corral" || die "Corral did not start"
CP_PORT=$SERVER_PORT
CP_PID=$SERVER_PID
start_server zk "$WORKDIR/tp-zk" "" || die "ZooKeeper did not start"
ZP_PORT=$SERVER_PORT
ZP_PID=$SERVER_PID
TARGETS="corral=127.0.0.1:$CP_PORT,zookeeper=127.0.0.1:$ZP_PORT"
LOADS=("1 1 create,set,get" "16 1 create,set" "64 8 create,set,get")
LOADS_CORRAL=("${LOADS[@]}")
BENCH_LIMIT=$(((SECONDS_RUN + WARMUP) * 2 * 3 + 300))
uses corral || LOADS_CORRAL=()
for load in "${LOADS_CORRAL[@]}"; do
	read -r sessions in_flight ops <<<"$load"
	name="${sessions}x${in_flight}"
	log "bench $name: $ops"
	if ! run_bounded "$BENCH_LIMIT" "$CORRAL" bench --addr "$TARGETS" --sessions "$sessions" \
		--in-flight "$in_flight" --ops "$ops" --duration-s "$SECONDS_RUN" --warmup-s "$WARMUP" \
		--value-bytes "$VALUE_BYTES" --json >"$WORKDIR/bench-$name.json" 2>"$WORKDIR/bench-$name.err"; then
		cat "$WORKDIR/bench-$name.err" >&"$LOG_FD"
		die "bench $name failed"
	fi
	while IFS=$'\t' read -r workload target ops_s p99 errors failure; do
		R[tp.$name.$workload.$target.ops]="$ops_s"
		R[tp.$name.$workload.$target.p99]="$p99"
		R[tp.$name.$workload.$target.err]="$errors"
		[[ -n "$failure" ]] && log "  $target $workload: a session failed: $failure"
	done < <(jq -r '.results[] | [.workload, .target, .ops_per_s, (.latency.p99_us / 1000),
		.errors, (.failure // "")] | @tsv' "$WORKDIR/bench-$name.json")
done

# zkload: one run per load, op and server, interleaved (Corral, ZooKeeper, per op) as above; each
# run makes its own keys and removes everything it made.
ZKLOAD_LIMIT=$((SECONDS_RUN + WARMUP + 120))
LOADS_ZKLOAD=("${LOADS[@]}")
uses zkload || LOADS_ZKLOAD=()
for load in "${LOADS_ZKLOAD[@]}"; do
	read -r sessions in_flight ops <<<"$load"
	name="${sessions}x${in_flight}"
	for op in ${ops//,/ }; do
		for target in corral zookeeper; do
			if [[ "$target" == corral ]]; then port=$CP_PORT pid=$CP_PID; else port=$ZP_PORT pid=$ZP_PID; fi
			f="$WORKDIR/zkload-$name-$op-$target"
			log "zkload $name $op: $target"
			if ! run_bounded "$ZKLOAD_LIMIT" "$ZKLOAD" --connect "127.0.0.1:$port" --pid "$pid" \
				--sessions "$sessions" --in-flight "$in_flight" --op "$op" --secs "$SECONDS_RUN" \
				--warmup-secs "$WARMUP" --value-bytes "$VALUE_BYTES" --json >"$f.json" 2>"$f.err"; then
				cat "$f.err" >&"$LOG_FD"
				die "zkload $name $op on $target failed"
			fi
			# A tab is IFS white space: empty fields would merge, so "-" stands for none.
			IFS=$'\t' read -r ops_s p99 p999 errors stopped cpu kinds < <(jq -r '.results[0] |
				[.ops_per_s, (.latency.p99_us / 1000), (.latency.p999_us / 1000), .errors,
				.sessions_stopped, (.cpu.server_us_per_op // "-"),
				(.error_kinds.by_kind | to_entries | map("\(.key)=\(.value)") | join(" "))] | @tsv' "$f.json")
			cpu="${cpu#-}"
			k="zl.$name.$op.$target"
			R[$k.ops]="$ops_s" R[$k.p99]="$p99" R[$k.p999]="$p999" R[$k.cpu]="$cpu"
			R[$k.err]="$errors"
			[[ "$errors" != 0 ]] && log "  $target $op: $errors failed requests: $kinds"
			((stopped > 0)) && log "  $target $op: $stopped session(s) ended early"
			log "  $target $op: $(fmt "$ops_s" %.0f) ops/s, p99 $(fmt "$p99" %.2f) ms, server CPU $(fmt "$cpu" %.0f) us/op"
		done
	done
done
stop_server "$CP_PID"
stop_server "$ZP_PID"

# ---------------------------------------------------------------------------------------------
# (c, d, e) the big tree

# populate_into NAME PORT LIMIT: populates the tree, sets R[NAME.pop_s], R[NAME.pop_rate]
populate_into() {
	local name=$1 port=$2 limit=$3
	if ! run_bounded "$limit" "$CORRAL" bench populate --addr "$name=127.0.0.1:$port" \
		--nodes "$NODES" --fanout "$FANOUT" --value-bytes "$VALUE_BYTES" \
		--sessions "$POP_SESSIONS" --json >"$WORKDIR/populate-$name.json" \
		2>"$WORKDIR/populate-$name.err"; then
		log "populate $name failed: $(grep -m 1 -i -E 'error|failed' "$WORKDIR/populate-$name.err" ||
			echo "timed out or killed, see populate-$name.err")"
		return 1
	fi
	R[$name.pop_s]="$(jq -r '.populate[0].elapsed_s' "$WORKDIR/populate-$name.json")"
	R[$name.pop_rate]="$(jq -r '.populate[0].nodes_per_s' "$WORKDIR/populate-$name.json")"
	log "populated $name: $NODES znodes in $(fmt "${R[$name.pop_s]}" %.2f) s"
}

# newest_file DIR GLOB: the most recently modified matching file, or nothing
newest_file() {
	local dir=$1 glob=$2 newest="" f
	for f in "$dir"/$glob; do
		[[ -f "$f" ]] || continue
		if [[ -z "$newest" || "$f" -nt "$newest" ]]; then newest=$f; fi
	done
	echo "$newest"
}

# newest_name DIR GLOB: the greatest matching file name (Corral's snapshot names sort by index)
newest_name() {
	local f newest=""
	for f in "$1"/$2; do
		[[ -f "$f" ]] || continue
		f="${f##*/}"
		if [[ "$f" > "$newest" ]]; then newest=$f; fi
	done
	echo "$newest"
}

# bigtree_set NAME PORT: (f) setData at 64x8 on the loaded tree; sets R[NAME.big_set] and
# R[NAME.big_set_p99], or logs why not (the rest of the sequence goes on)
bigtree_set() {
	local name=$1 port=$2
	log "$name: setData 64x8 on the loaded tree"
	if run_bounded "$BENCH_LIMIT" "$CORRAL" bench --addr "$name=127.0.0.1:$port" --sessions 64 \
		--in-flight 8 --ops set --duration-s "$SECONDS_RUN" --warmup-s "$WARMUP" \
		--value-bytes "$VALUE_BYTES" --json >"$WORKDIR/bigset-$name.json" 2>"$WORKDIR/bigset-$name.err"; then
		R[$name.big_set]="$(jq -r '.results[0].ops_per_s' "$WORKDIR/bigset-$name.json")"
		R[$name.big_set_p99]="$(jq -r '.results[0].latency.p99_us / 1000' "$WORKDIR/bigset-$name.json")"
	else
		log "$name: setData on the loaded tree failed, see bigset-$name.err"
	fi
}

SETTLE_S=$((QUICK ? 2 : 5))
POP_LIMIT=$((NODES / 1000 + 300))

# tree_zk NAME HEAP POP_LIMIT: the whole tree sequence on a fresh ZooKeeper; returns non-zero
# when any step fails (used by the heap search), with the step in TREE_FAIL
TREE_FAIL=""
tree_zk() {
	local name=$1 heap=$2 limit=$3 dir="$WORKDIR/$1" port pid base
	log "$name: fresh ZooKeeper, heap ${heap:-default}"
	TREE_FAIL="start"
	start_server zk "$dir" "$heap" || return 1
	port=$SERVER_PORT
	pid=$SERVER_PID
	base="$(node_count "$port")"
	TREE_FAIL="populate"
	populate_into "$name" "$port" "$limit" || {
		grep -q -m 1 OutOfMemoryError "$dir/server.log" && TREE_FAIL="populate: OutOfMemoryError"
		stop_server "$pid"
		return 1
	}
	sleep "$SETTLE_S"
	kill -0 "$pid" 2>/dev/null || return 1
	TREE_FAIL="restart"
	R[$name.rss]="$(rss_mb "$pid")"
	R[$name.hwm]="$(rss_mb "$pid" VmHWM)"
	log "$name: RSS ${R[$name.rss]} MB (peak ${R[$name.hwm]} MB)"
	if ((HAVE_JCMD)) && [[ "$name" == zk-default ]]; then
		# The live heap after a full GC, to start the search for just enough -Xmx from.
		jcmd "$pid" GC.run >/dev/null 2>&1 || true
		R[$name.live_mb]="$(jcmd "$pid" GC.heap_info 2>/dev/null |
			awk '/garbage-first heap|def new generation|total.*used/ {
				for (i = 1; i <= NF; i++) if ($i == "used") { v = $(i + 1); sub(/K,?$/, "", v); print int(v / 1024); exit } }')"
		log "$name: live heap after full GC ${R[$name.live_mb]:-?} MB"
	fi
	restart zk "$dir" "$port" "$pid" $((base + NODES)) || return 1
	pid=$SERVER_PID
	R[$name.restart1]="$RESTART_S"
	R[$name.stop1]="$STOPPED_BY"
	sleep "$SETTLE_S"
	R[$name.rss_after]="$(rss_mb "$pid")"
	# ZooKeeper writes a snapshot while it starts: the newest one now holds the whole tree.
	local snap
	snap="$(newest_file "$dir/data/version-2" 'snapshot.*')"
	[[ -n "$snap" ]] && R[$name.snap_mb]="$(awk -v b="$(stat -c %s "$snap")" 'BEGIN { printf "%.1f", b / 1048576 }')"
	restart zk "$dir" "$port" "$pid" $((base + NODES)) || return 1
	pid=$SERVER_PID
	R[$name.restart2]="$RESTART_S"
	log "$name: restart ${R[$name.restart1]} s (log), ${R[$name.restart2]} s (snapshot); snapshot ${R[$name.snap_mb]:-?} MB"
	# (f) last, so that the snapshots it causes change none of the figures above; with the
	# default heap only, as more load on a just-enough heap could fail the trial.
	if [[ "$name" == zk-default ]]; then bigtree_set "$name" "$port"; fi
	stop_server "$pid"
	rm -rf "$dir/data"
}

tree_corral() {
	local name=corral dir="$WORKDIR/corral" port pid base snap
	log "corral: fresh server"
	start_server corral "$dir" || die "Corral did not start"
	port=$SERVER_PORT
	pid=$SERVER_PID
	base="$(node_count "$port")"
	populate_into corral "$port" "$POP_LIMIT" || die "populate corral failed"
	sleep "$SETTLE_S"
	R[corral.rss]="$(rss_mb "$pid")"
	R[corral.hwm]="$(rss_mb "$pid" VmHWM)"
	log "corral: RSS ${R[corral.rss]} MB (peak ${R[corral.hwm]} MB)"
	restart corral "$dir" "$port" "$pid" $((base + NODES)) || die "corral restart failed"
	pid=$SERVER_PID
	R[corral.restart1]="$RESTART_S"
	R[corral.stop1]="$STOPPED_BY"
	sleep "$SETTLE_S"
	R[corral.rss_after]="$(rss_mb "$pid")"
	# (f) here, before snapCount=200 below; the snapshot measured next is taken after it.
	bigtree_set corral "$port"
	# A snapshot after the load: restart with a small snapCount (which may already snapshot
	# during the replay, at some index before the end), let any snapshot in progress finish,
	# then write more than snapCount entries: the snapshot they trigger holds the whole tree.
	echo "snapCount=200" >>"$dir/zoo.cfg"
	restart corral "$dir" "$port" "$pid" $((base + NODES)) || die "corral restart failed"
	pid=$SERVER_PID
	local snapdir="$dir/data/corral-snapshots" quiet=0 before
	local deadline=$((SECONDS + 300))
	while ((quiet < 6)); do
		((SECONDS < deadline)) || die "Corral kept writing snapshots for 300 s"
		if compgen -G "$snapdir/*.tmp" >/dev/null; then quiet=0; else quiet=$((quiet + 1)); fi
		sleep 0.5
	done
	before="$(newest_name "$snapdir" '*.snap')"
	run_bounded 120 "$CORRAL" bench --addr "corral=127.0.0.1:$port" --ops set --requests 400 \
		--sessions 1 --in-flight 1 --key-space 1 --warmup-s 0 --json >/dev/null ||
		die "writes to trigger a Corral snapshot failed"
	deadline=$((SECONDS + 300))
	while snap="$(newest_name "$snapdir" '*.snap')" && [[ -z "$snap" || ! "$snap" > "$before" ]]; do
		((SECONDS < deadline)) || die "no Corral snapshot after the load within 300 s"
		sleep 0.5
	done
	snap="$snapdir/$snap"
	R[corral.snap_mb]="$(awk -v b="$(stat -c %s "$snap")" 'BEGIN { printf "%.1f", b / 1048576 }')"
	restart corral "$dir" "$port" "$pid" $((base + NODES)) || die "corral restart failed"
	pid=$SERVER_PID
	R[corral.restart2]="$RESTART_S"
	log "corral: restart ${R[corral.restart1]} s (log), ${R[corral.restart2]} s (snapshot); snapshot ${R[corral.snap_mb]} MB"
	stop_server "$pid"
	rm -rf "$dir/data"
}

HEAP_TRIALS=""
ZK_TIGHT=""
if ((!THROUGHPUT_ONLY)); then
	log "(c-e) $NODES znodes: Corral"
	tree_corral
	log "(c-e) $NODES znodes: ZooKeeper with the default heap (${ZK_DEFAULT_HEAP_MB} MB)"
	tree_zk zk-default "" "$POP_LIMIT" || die "ZooKeeper with the default heap failed"

	# Just enough -Xmx: from the live heap x 1.1, up by 15 % until populate and restarts succeed
	# (a populate slower than 4x the default-heap one counts as a failure: GC thrashing).
	live_mb="${R[zk-default.live_mb]:-}"
	if [[ "$HEAP_FROM" =~ ^[0-9]+$ ]]; then
		heap_mb=$HEAP_FROM
	elif [[ "$live_mb" =~ ^[0-9]+$ ]] && ((live_mb > 0)); then
		heap_mb=$(((live_mb * 11 / 10 + 31) / 32 * 32))
	else
		heap_mb=$(((NODES * 640 / 1000000 + 31) / 32 * 32))
	fi
	tight_limit="$(awk -v s="${R[zk-default.pop_s]}" 'BEGIN { printf "%d", s * 4 + 60 }')"
	for _ in 1 2 3 4 5 6; do
		log "(c-e) ZooKeeper with -Xmx${heap_mb}m"
		if tree_zk "zk-${heap_mb}m" "${heap_mb}m" "$tight_limit"; then
			HEAP_TRIALS+="${heap_mb}m ok"
			ZK_TIGHT="zk-${heap_mb}m"
			break
		fi
		HEAP_TRIALS+="${heap_mb}m failed (${TREE_FAIL}), "
		# A failed trial may leave its server running (e.g. a restart that never came back).
		if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then stop_server "$SERVER_PID"; fi
		heap_mb=$(((heap_mb * 115 / 100 + 31) / 32 * 32))
	done
	[[ -n "$ZK_TIGHT" ]] || log "no -Xmx up to ${heap_mb}m was enough"
	log "heap search: $HEAP_TRIALS"
fi

# ---------------------------------------------------------------------------------------------
# Report

report() {
	local n
	n="$(printf "%'d" "$NODES" 2>/dev/null || echo "$NODES")"
	echo "# Corral vs Apache ZooKeeper ${ZK_VERSION:-3.8} standalone"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname), $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) RAM;"
	echo "corral $CORRAL_REV (release), ${JAVA_VERSION}; data on $DISK."
	local gens="\`corral bench\` (Corral's own client) and \`zkload\` (the zookeeper-client crate)"
	uses zkload || gens="\`corral bench\`"
	uses corral || gens="\`zkload\` (the zookeeper-client crate)"
	echo "One run, same load generators on both ($gens), fsync on both (forceSync=yes),"
	echo "${VALUE_BYTES}-byte values, ${SECONDS_RUN} s measured after ${WARMUP} s warmup per workload,"
	echo "targets interleaved per workload. ZooKeeper for (b): default heap."
	echo "Load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg) (shared machine:" \
		"compare only within one run)."
	echo
	echo "## Disk"
	echo
	echo "Raw fdatasync rate, ${VALUE_BYTES}-byte writes by one writer, each followed by fdatasync," \
		"${FSYNC_SECONDS} s each:"
	echo
	echo "| file | syncs/s | p50 ms | p99 ms |"
	echo "|---|---:|---:|---:|"
	echo "| appending (each write grows the file) | $(fmt "${R[fsync.append]}" %.0f)" \
		"| $(fmt "${R[fsync.append.p50]}" %.3f) | $(fmt "${R[fsync.append.p99]}" %.3f) |"
	echo "| preallocated (length set ahead, as both servers' logs do) | $(fmt "${R[fsync.preallocated]}" %.0f)" \
		"| $(fmt "${R[fsync.preallocated.p50]}" %.3f) | $(fmt "${R[fsync.preallocated.p99]}" %.3f) |"
	echo
	echo "The preallocated rate bounds 1×1 writes (one request in flight, synced before the reply);" \
		"more sessions can only beat it by sharing one sync among several writes."
	echo
	local load sessions in_flight ops op name c z
	if uses corral; then
		echo "## Throughput (sessions × in flight), \`corral bench\`"
		echo
		echo "| load | op | Corral ops/s | Corral p99 ms | ZooKeeper ops/s | ZooKeeper p99 ms | ops/s Corral/ZK | p99 Corral/ZK |"
		echo "|---|---|---:|---:|---:|---:|---:|---:|"
		for load in "${LOADS[@]}"; do
			read -r sessions in_flight ops <<<"$load"
			name="${sessions}x${in_flight}"
			for op in ${ops//,/ }; do
				c="tp.$name.$op.corral"
				z="tp.$name.$op.zookeeper"
				echo "| ${sessions}×${in_flight} | $op | $(fmt "${R[$c.ops]:-}" '%.0f') | $(fmt "${R[$c.p99]:-}" '%.2f')" \
					"| $(fmt "${R[$z.ops]:-}" '%.0f') | $(fmt "${R[$z.p99]:-}" '%.2f')" \
					"| $(ratio "${R[$c.ops]:-}" "${R[$z.ops]:-}") | $(ratio "${R[$c.p99]:-}" "${R[$z.p99]:-}") |"
			done
		done
		echo
	fi
	if uses zkload; then
		echo "## Throughput (sessions × in flight), \`zkload\` (zookeeper-client crate)"
		echo
		echo "One zkload run per load, op and server (Corral, then ZooKeeper, per op); each makes its own"
		echo "1000 keys and removes what it made. Server CPU: user + system time of the server process per op."
		echo
		echo "| load | op | Corral ops/s | Corral CPU µs/op | ZK ops/s | ZK CPU µs/op | ops/s C/ZK | CPU C/ZK | Corral p99 ms | ZK p99 ms | p99 C/ZK | Corral p99.9 ms | ZK p99.9 ms | p99.9 C/ZK |"
		echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for load in "${LOADS[@]}"; do
			read -r sessions in_flight ops <<<"$load"
			name="${sessions}x${in_flight}"
			for op in ${ops//,/ }; do
				c="zl.$name.$op.corral"
				z="zl.$name.$op.zookeeper"
				echo "| ${sessions}×${in_flight} | $op" \
					"| $(fmt "${R[$c.ops]:-}" '%.0f') | $(fmt "${R[$c.cpu]:-}" '%.0f')" \
					"| $(fmt "${R[$z.ops]:-}" '%.0f') | $(fmt "${R[$z.cpu]:-}" '%.0f')" \
					"| $(ratio "${R[$c.ops]:-}" "${R[$z.ops]:-}") | $(ratio "${R[$c.cpu]:-}" "${R[$z.cpu]:-}")" \
					"| $(fmt "${R[$c.p99]:-}" '%.2f') | $(fmt "${R[$z.p99]:-}" '%.2f') | $(ratio "${R[$c.p99]:-}" "${R[$z.p99]:-}")" \
					"| $(fmt "${R[$c.p999]:-}" '%.2f') | $(fmt "${R[$z.p999]:-}" '%.2f') | $(ratio "${R[$c.p999]:-}" "${R[$z.p999]:-}") |"
			done
		done
		echo
	fi
	local errs="" key
	for key in "${!R[@]}"; do
		[[ "$key" == tp.*.err || "$key" == zl.*.err ]] && [[ "${R[$key]}" != 0 ]] && errs+=" ${key%.err}=${R[$key]}"
	done
	[[ -n "$errs" ]] && echo "Failed requests (tp: corral bench, zl: zkload; kinds in the log):$errs" && echo
	echo "set runs right after create on the same servers, so each tree is as big as its own create" \
		"run made it; setData on one tree size for both is in the next table."
	echo
	((!THROUGHPUT_ONLY)) || return 0
	echo "## $n znodes (${VALUE_BYTES}-byte data, fan-out $FANOUT), fresh servers"
	echo
	local t=${ZK_TIGHT:-none}
	local tight_label="ZooKeeper -Xmx${t#zk-}"
	[[ -z "$ZK_TIGHT" ]] && tight_label="ZooKeeper (no -Xmx was enough)"
	echo "| | Corral | $tight_label | ZooKeeper default heap (${ZK_DEFAULT_HEAP_MB} MB) | Corral / ZK -Xmx${t#zk-} | Corral / ZK default |"
	echo "|---|---:|---:|---:|---:|---:|"
	local rows=(
		"populate s|pop_s|%.1f"
		"populate znodes/s|pop_rate|%.0f"
		"RSS after populate MB|rss|%.0f"
		"peak RSS (VmHWM) MB|hwm|%.0f"
		"restart, tree in log, s|restart1|%.2f"
		"RSS after restart MB|rss_after|%.0f"
		"snapshot MB|snap_mb|%.1f"
		"restart, tree in snapshot, s|restart2|%.2f"
		"setData 64×8 on this tree, ops/s|big_set|%.0f"
		"setData 64×8 on this tree, p99 ms|big_set_p99|%.2f"
	)
	local row label key f
	for row in "${rows[@]}"; do
		IFS='|' read -r label key f <<<"$row"
		c="${R[corral.$key]:-}"
		local zt="${R[$t.$key]:-}" zd="${R[zk-default.$key]:-}"
		echo "| $label | $(fmt "$c" "$f") | $(fmt "$zt" "$f") | $(fmt "$zd" "$f") | $(ratio "$c" "$zt") | $(ratio "$c" "$zd") |"
	done
	echo
	echo "ZooKeeper heap search (live heap after a full GC with the default heap:" \
		"${R[zk-default.live_mb]:-?} MB): $HEAP_TRIALS."
	echo "Restart: SIGTERM (stopped by: Corral ${R[corral.stop1]:-?}, ZooKeeper ${R[zk-default.stop1]:-?})," \
		"then start until \`srvr\` reports the whole tree. ZooKeeper writes a snapshot while starting;"
	echo "Corral's was taken after the load with snapCount=200. RSS is VmRSS, ${SETTLE_S} s after the load."
	echo "setData on this tree: default snapCount, the bench's own 1000 keys; Corral after the first" \
		"restart, ZooKeeper (default heap only) after the second."
}

report >"$WORKDIR/results.md"
cat "$WORKDIR/results.md"
if [[ -n "$OUT" ]]; then
	cp "$WORKDIR/results.md" "$OUT"
	log "written to $OUT"
fi
