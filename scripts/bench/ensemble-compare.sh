#!/usr/bin/env bash
# A 3-server Corral ensemble against a 3-server Apache ZooKeeper 3.8 ensemble on this machine, in
# one run, with the same load generators on both (`corral bench`, on Corral's own client, and
# `zkload`, on the `zookeeper-client` crate, a client Corral did not write) and fsync on both:
#
#   (a) writes (create, setData) at 1x1, 16x1 and 64x8 (sessions x in flight) and reads
#       (getData) at 64x8: ops/s, p99, p99.9, and the CPU time of the three servers together
#       per op (user + system from /proc/<pid>/stat), both ensembles side by side (workloads
#       interleaved: Corral create, ZooKeeper create, Corral set, ...), after an unmeasured
#       warm-up round (JIT); once with each load generator of --loadgen;
#   (b) memory: the resident set (VmRSS) of every server, idle after start and after the load,
#       and its peak (VmHWM); idle CPU of each ensemble;
#   (c) failover: one session writes setData in a loop (1x1) through a follower; the leader
#       gets SIGKILL; the figure is the time from the kill to the first acknowledged write sent
#       after it (`corral bench failover`: on a lost connection the session re-attaches round
#       robin over the ensemble with no client backoff). Repeated --failovers times per
#       ensemble, the killed server restarted in between;
#   (d) join: --join-nodes znodes (default 1,000,000) are created (`corral bench populate`,
#       fan-out 10, 100-byte values), then a follower is killed, its data directory emptied
#       (myid kept) and the server started again: the figure is the time from that start to
#       the server following with the leader's zxid (`srvr`), i.e. a new server joining an
#       ensemble that holds the tree (ZooKeeper sends it a SNAP; Corral a snapshot or the log,
#       whichever its leader still has).
#
# Both ensembles run at the same time, on 127.0.0.1: the workloads can then be interleaved, so
# that this shared machine's drift (30-50 % between runs) hits both alike, which matters more
# than the idle ensemble's cost (its idle CPU is measured and reported; both idle at well under
# 1 % of a core). Failover runs one ensemble at a time while the other idles.
#
# Sessions spread round robin over each ensemble's servers, listed follower, follower, leader:
# at 1x1 the session is on a follower (writes forwarded to the leader, as for 2 of 3 clients of
# a real ensemble); at 16x1 and 64x8 the followers carry 2/3 of the sessions.
#
# Settings on both: tickTime=2000, initLimit=10, syncLimit=5, forceSync=yes, maxClientCnxns=0,
# default snapCount; Corral's Raft timers therefore come from tickTime/syncLimit (no
# corral.raft.electionTimeoutMs). ZooKeeper: -Xmx of --zk-heap (default 1000m, what upstream's
# zkEnv.sh gives a server), log4j at WARN; Corral: --log warn.
#
# Usage: scripts/bench/ensemble-compare.sh [--quick] [--out results.md] [options]
#   --quick            3 s runs and one failover each: checks the script end to end
#   --out FILE         also write the markdown report to FILE
#   --seconds S        measured seconds per workload (default 10; --quick 3)
#   --warmup S         unmeasured seconds before each (default 2; --quick 1)
#   --prewarm S        seconds per workload of the unmeasured warm-up round that comes first
#                      (default 5; --quick 2)
#   --failovers N      leader kills per ensemble (default 5; --quick 1)
#   --failover-wait S  how long a failover may take before it counts as failed (default 60)
#   --zk-heap SIZE     ZooKeeper's -Xmx (default 1000m)
#   --workdir DIR      where data directories and logs go (default: a new dir under $TMPDIR
#                      or /tmp)
#   --corral-bin PATH  use this corral binary instead of building one
#   --loadgen WHICH    load generator(s) for (a): corral, zkload or both (default both, or
#                      $LOADGEN); both adds about (seconds + warmup + 2) x 14 s to the run;
#                      the warm-up round uses corral bench unless this is zkload, and the
#                      failovers (c) always do (`corral bench failover`)
#   --zkload-bin PATH  use this zkload binary (default: beside the corral binary, built with
#                      it when missing)
#   --corral-log F     Corral's log filter (default warn; e.g. info,openraft=info to see
#                      elections in DIR/corral.N/server.log, with --keep)
#   --failover-only    skip the throughput runs (to look into failover)
#   --join-nodes N     znodes in the tree a new server joins in (d) (default 1000000; --quick
#                      100000; 0 skips (d))
#   --join-wait S      how long a join may take before it counts as failed (default 600)
#   --keep             keep the work directory (logs, data, bench JSON) at the end
#
# Builds `cargo build --release -p corral` (and `-p corral-zkload`; honours CARGO_TARGET_DIR). Needs Debian's Apache
# ZooKeeper jars (scripts/install-test-deps.sh), java and jq. Every process the script starts is
# killed at exit, whatever the exit.

set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Options

QUICK=0
OUT=""
SECONDS_RUN=""
WARMUP=""
FAILOVERS=""
PREWARM=""
FAILOVER_WAIT=60
ZK_HEAP=1000m
WORKDIR=""
CORRAL_BIN=""
ZKLOAD_BIN=""
LOADGEN="${LOADGEN:-both}"
KEEP=0
CORRAL_LOG=warn
FAILOVER_ONLY=0
JOIN_NODES=""
JOIN_WAIT=600
VALUE_BYTES=100
SERVERS=3

exec {LOG_FD}>&2

die() {
	echo "ensemble-compare.sh: $*" >&"$LOG_FD"
	exit 1
}

while (($#)); do
	case "$1" in
	--quick) QUICK=1 ;;
	--out) OUT="${2:?--out needs a file}" && shift ;;
	--out=*) OUT="${1#*=}" ;;
	--seconds) SECONDS_RUN="${2:?--seconds needs a number}" && shift ;;
	--warmup) WARMUP="${2:?--warmup needs a number}" && shift ;;
	--failovers) FAILOVERS="${2:?--failovers needs a number}" && shift ;;
	--prewarm) PREWARM="${2:?--prewarm needs a number}" && shift ;;
	--failover-wait) FAILOVER_WAIT="${2:?--failover-wait needs a number}" && shift ;;
	--zk-heap) ZK_HEAP="${2:?--zk-heap needs a size}" && shift ;;
	--workdir) WORKDIR="${2:?--workdir needs a directory}" && shift ;;
	--corral-bin) CORRAL_BIN="${2:?--corral-bin needs a path}" && shift ;;
	--zkload-bin) ZKLOAD_BIN="${2:?--zkload-bin needs a path}" && shift ;;
	--loadgen) LOADGEN="${2:?--loadgen needs corral, zkload or both}" && shift ;;
	--corral-log) CORRAL_LOG="${2:?--corral-log needs a filter}" && shift ;;
	--failover-only) FAILOVER_ONLY=1 ;;
	--join-nodes) JOIN_NODES="${2:?--join-nodes needs a number}" && shift ;;
	--join-wait) JOIN_WAIT="${2:?--join-wait needs a number}" && shift ;;
	--keep) KEEP=1 ;;
	-h | --help)
		sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done

if ((QUICK)); then
	: "${SECONDS_RUN:=3}" "${WARMUP:=1}" "${FAILOVERS:=1}" "${PREWARM:=2}" "${JOIN_NODES:=100000}"
else
	: "${SECONDS_RUN:=10}" "${WARMUP:=2}" "${FAILOVERS:=5}" "${PREWARM:=5}" "${JOIN_NODES:=1000000}"
fi
[[ "$JOIN_NODES" =~ ^[0-9]+$ ]] || die "--join-nodes must be a number"
[[ "$FAILOVERS" =~ ^[0-9]+$ ]] || die "--failovers must be a number"
case "$LOADGEN" in
corral | zkload | both) ;;
*) die "--loadgen (or LOADGEN) must be corral, zkload or both, not $LOADGEN" ;;
esac
# uses GEN: whether load generator GEN (corral or zkload) runs in (a)
uses() { [[ "$LOADGEN" == both || "$LOADGEN" == "$1" ]]; }

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
			echo "ensemble-compare.sh: work directory kept: $WORKDIR" >&"$LOG_FD"
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
# Ports, four-letter words, /proc

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

# mode PORT: `srvr`'s Mode (leader, follower, ...), empty while the server does not serve
mode() { fourlw "$1" srvr | awk -F': ' '/^Mode:/ { print $2 }' | tr -d '\r'; }

# status_mb PID [field]: VmRSS (or another /proc/<pid>/status field) in MB
status_mb() {
	awk -v f="${2:-VmRSS}:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true
}

# cpu_ticks PID...: utime + stime of the processes together, in clock ticks
cpu_ticks() {
	local total=0 pid t
	for pid in "$@"; do
		t="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)"
		total=$((total + t))
	done
	echo "$total"
}

# ---------------------------------------------------------------------------------------------
# Ensembles. State in globals, indexed by "<kind>.<i>" (kind corral or zk, i in 1..3), so that
# servers are never started from a subshell: the script stays the parent of every server, to
# track, reap and kill it.

declare -A PORT=() QPORT=() EPORT=() PID=() DIR=()
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"

# write_ensemble KIND: ports, directories, zoo.cfg and myid for every server of KIND
write_ensemble() {
	local kind=$1 i servers=""
	for i in $(seq 1 "$SERVERS"); do
		free_port && PORT[$kind.$i]=$FREE_PORT
		free_port && QPORT[$kind.$i]=$FREE_PORT
		free_port && EPORT[$kind.$i]=$FREE_PORT
		servers+="server.$i=127.0.0.1:${QPORT[$kind.$i]}:${EPORT[$kind.$i]}"$'\n'
	done
	for i in $(seq 1 "$SERVERS"); do
		local dir="$WORKDIR/$kind.$i"
		DIR[$kind.$i]=$dir
		rm -rf "$dir"
		mkdir -p "$dir/data"
		echo "$i" >"$dir/data/myid"
		cat >"$dir/zoo.cfg" <<-EOF
			tickTime=2000
			initLimit=10
			syncLimit=5
			dataDir=$dir/data
			clientPort=${PORT[$kind.$i]}
			clientPortAddress=127.0.0.1
			maxClientCnxns=0
			4lw.commands.whitelist=*
			admin.enableServer=false
			forceSync=yes
		EOF
		printf '%s' "$servers" >>"$dir/zoo.cfg"
		if [[ "$kind" == zk ]]; then
			printf '%s\n' "log4j.rootLogger=WARN, CONSOLE" \
				"log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender" \
				"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout" \
				"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n" \
				>"$dir/log4j.properties"
		fi
	done
}

# launch KIND I: starts server I of KIND on its configuration (no wait); sets PID[KIND.I]
launch() {
	local kind=$1 i=$2 dir="${DIR[$1.$2]}"
	if [[ "$kind" == zk ]]; then
		java "-Xmx$ZK_HEAP" -XX:+ExitOnOutOfMemoryError "-Dlog4j.configuration=file:$dir/log4j.properties" \
			-Dzookeeper.admin.enableServer=false -cp "$ZK_CP" \
			org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 &
	else
		"$CORRAL" server --config "$dir/zoo.cfg" --log "$CORRAL_LOG" >>"$dir/server.log" 2>&1 &
	fi
	PID[$kind.$i]=$!
	PIDS+=("$!")
}

# LEADER: set by wait_quorum to the leader's index
LEADER=""
# wait_quorum KIND LIMIT_S [SKIP]: waits until one running server leads and the others (all but
# SKIP) follow
wait_quorum() {
	local kind=$1 limit=$2 skip=${3:-} deadline=$(($2 + SECONDS)) i m leaders followers want
	want=$((SERVERS - 1))
	[[ -n "$skip" ]] && want=$((SERVERS - 2))
	while ((SECONDS < deadline)); do
		leaders=0 followers=0 LEADER=""
		for i in $(seq 1 "$SERVERS"); do
			[[ "$i" == "$skip" ]] && continue
			kill -0 "${PID[$kind.$i]}" 2>/dev/null || return 1
			m="$(mode "${PORT[$kind.$i]}")"
			case "$m" in
			leader) leaders=$((leaders + 1)) && LEADER=$i ;;
			follower) followers=$((followers + 1)) ;;
			esac
		done
		if ((leaders == 1 && followers == want)); then return 0; fi
		sleep 0.1
	done
	return 1
}

# start_ensemble KIND: a fresh ensemble, retried on new ports when one was taken meanwhile
start_ensemble() {
	local kind=$1 attempt i
	for attempt in 1 2 3; do
		write_ensemble "$kind"
		for i in $(seq 1 "$SERVERS"); do launch "$kind" "$i"; done
		if wait_quorum "$kind" 90; then
			log "$kind ensemble up: leader server.$LEADER"
			return 0
		fi
		stop_ensemble "$kind"
		if ! cat "$WORKDIR/$kind".*/server.log | grep -q -i -E "address already in use|BindException"; then
			for i in $(seq 1 "$SERVERS"); do
				log "$kind server.$i did not start (attempt $attempt); log tail:"
				tail -n 15 "${DIR[$kind.$i]}/server.log" >&"$LOG_FD"
			done
			return 1
		fi
	done
	return 1
}

stop_ensemble() {
	local kind=$1 i pid
	for i in $(seq 1 "$SERVERS"); do
		pid="${PID[$kind.$i]:-}"
		[[ -n "$pid" ]] || continue
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# ORDER: the ensemble's servers as "follower follower leader" indexes; ADDRS, PIDLIST: the
# matching `host:port|...` and `pid|...`
ORDER="" ADDRS="" PIDLIST=""
order_servers() {
	local kind=$1 leader=$2 i
	ORDER=""
	for i in $(seq 1 "$SERVERS"); do [[ "$i" != "$leader" ]] && ORDER+="$i "; done
	ORDER+="$leader"
	ADDRS="" PIDLIST=""
	for i in $ORDER; do
		ADDRS+="${ADDRS:+|}127.0.0.1:${PORT[$kind.$i]}"
		PIDLIST+="${PIDLIST:+|}${PID[$kind.$i]}"
	done
}

# ---------------------------------------------------------------------------------------------
# Results

declare -A R=()

fmt() { # VALUE PRINTF-FORMAT: the value formatted, or a dash when empty
	if [[ -z "$1" || "$1" == null ]]; then echo "—"; else awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; fi
}
ratio() { # A B: A/B with 2 decimals, or a dash
	if [[ -z "$1" || -z "$2" || "$1" == null || "$2" == null ]]; then echo "—"; else awk -v a="$1" -v b="$2" \
		'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f", a / b }'; fi
}
median() { # values...: their median (mean of the middle two for an even count), or nothing
	(($#)) || return 0
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
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

if [[ -z "$WORKDIR" ]]; then
	WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/corral-ensemble-compare.XXXXXX")"
else
	mkdir -p "$WORKDIR"
	WORKDIR="$(cd "$WORKDIR" && pwd)"
	[[ -z "$(ls -A "$WORKDIR")" ]] || die "--workdir $WORKDIR is not empty"
fi
WORKDIR_MADE=1

if [[ -z "$CORRAL_BIN" ]]; then
	log "building: cargo build --release -p corral -p corral-zkload"
	(cd "$REPO" && cargo build --release -p corral -p corral-zkload) >&2
	CORRAL_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/corral"
	CORRAL_REV="$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
else
	CORRAL_REV="$CORRAL_BIN (given)"
fi
[[ -x "$CORRAL_BIN" ]] || die "no corral binary at $CORRAL_BIN"
# A copy: a rebuild elsewhere during the run must not change the servers restarted later.
CORRAL="$WORKDIR/corral"
cp "$CORRAL_BIN" "$CORRAL"
if uses zkload; then
	if [[ -z "$ZKLOAD_BIN" ]]; then
		ZKLOAD_BIN="$(dirname "$CORRAL_BIN")/zkload"
		if [[ ! -x "$ZKLOAD_BIN" ]]; then
			log "building: cargo build --release -p corral-zkload"
			(cd "$REPO" && cargo build --release -p corral-zkload) >&2
			ZKLOAD_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/zkload"
		fi
	fi
	[[ -x "$ZKLOAD_BIN" ]] || die "no zkload binary at $ZKLOAD_BIN"
	ZKLOAD="$WORKDIR/zkload"
	cp "$ZKLOAD_BIN" "$ZKLOAD"
fi

ZK_VERSION="$(unzip -p /usr/share/java/zookeeper.jar META-INF/MANIFEST.MF 2>/dev/null |
	awk -F': ' '/^Implementation-Version/ { gsub("\r", "", $2); print $2 }' || true)"
JAVA_VERSION="$(java -version 2>&1 | head -n 1)"
DISK="$(df -P "$WORKDIR" | awk 'NR == 2 { print $1 }') ($(stat -f -c %T "$WORKDIR"))"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
T_START=$SECONDS
log "work directory $WORKDIR on $DISK; ${SECONDS_RUN}s runs, $FAILOVERS failover(s) each"

# ---------------------------------------------------------------------------------------------
# The disk: raw fdatasync rate (bounds 1x1 writes), before any server runs

FSYNC_SECONDS=$((QUICK ? 1 : 3))
log "fsync probe, 2 x ${FSYNC_SECONDS}s in $WORKDIR"
run_bounded $((FSYNC_SECONDS * 2 + 60)) "$CORRAL" bench fsync --dir "$WORKDIR" \
	--seconds "$FSYNC_SECONDS" --value-bytes "$VALUE_BYTES" --json >"$WORKDIR/fsync.json" ||
	die "the fsync probe failed"
for how in append preallocated; do
	R[fsync.$how]="$(jq -r ".fsync.$how.syncs_per_s" "$WORKDIR/fsync.json")"
	R[fsync.$how.p50]="$(jq -r ".fsync.$how.latency.p50_us / 1000" "$WORKDIR/fsync.json")"
done

# ---------------------------------------------------------------------------------------------
# Start both ensembles

start_ensemble corral || die "the Corral ensemble did not start"
start_ensemble zk || die "the ZooKeeper ensemble did not start"
wait_quorum corral 30 || die "the Corral ensemble lost its quorum"
R[corral.leader]=$LEADER
wait_quorum zk 30 || die "the ZooKeeper ensemble lost its quorum"
R[zk.leader]=$LEADER

# (b) idle: RSS after start, CPU over 5 s
sleep 3
for kind in corral zk; do
	for i in $(seq 1 "$SERVERS"); do R[$kind.$i.rss_idle]="$(status_mb "${PID[$kind.$i]}")"; done
done
declare -A IDLE0=()
for kind in corral zk; do
	IDLE0[$kind]="$(cpu_ticks "${PID[$kind.1]}" "${PID[$kind.2]}" "${PID[$kind.3]}")"
done
sleep 5
for kind in corral zk; do
	t="$(cpu_ticks "${PID[$kind.1]}" "${PID[$kind.2]}" "${PID[$kind.3]}")"
	R[$kind.idle_cpu_pct]="$(awk -v d=$((t - IDLE0[$kind])) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz / 5 * 100 }')"
done
log "idle CPU (3 servers, % of one core): Corral ${R[corral.idle_cpu_pct]}, ZooKeeper ${R[zk.idle_cpu_pct]}"

# ---------------------------------------------------------------------------------------------
# (a) throughput, side by side

# First an unmeasured round of every workload on both, so that the JVMs' JIT has compiled
# ZooKeeper's request path before the first measurement (three JVMs sharing two cores take a
# while; Corral is compiled ahead of time).

order_servers corral "${R[corral.leader]}"
C_ADDRS=$ADDRS C_PIDS=$PIDLIST C_ORDER=$ORDER
order_servers zk "${R[zk.leader]}"
Z_ADDRS=$ADDRS Z_PIDS=$PIDLIST Z_ORDER=$ORDER
TARGETS="corral=$C_ADDRS,zookeeper=$Z_ADDRS"
TARGET_PIDS="corral=$C_PIDS,zookeeper=$Z_PIDS"
LOADS=("1 1 create,set" "16 1 create,set" "64 8 create,set,get")
((FAILOVER_ONLY)) && LOADS=()
if ((!FAILOVER_ONLY)) && uses corral; then
	log "warm-up: create,set,get at 16x4, ${PREWARM}s each, unmeasured"
	run_bounded $((PREWARM * 6 + 300)) "$CORRAL" bench --addr "$TARGETS" --sessions 16 --in-flight 4 \
		--ops create,set,get --duration-s "$PREWARM" --warmup-s 0 --value-bytes "$VALUE_BYTES" \
		>"$WORKDIR/prewarm.txt" 2>&1 || die "the warm-up run failed (see $WORKDIR/prewarm.txt)"
elif ((!FAILOVER_ONLY)); then
	log "warm-up with zkload: create,set,get at 16x4, ${PREWARM}s each, unmeasured"
	for addrs in "${C_ADDRS//|/,}" "${Z_ADDRS//|/,}"; do
		run_bounded $((PREWARM * 3 + 120)) "$ZKLOAD" --connect "$addrs" --sessions 16 --in-flight 4 \
			--op create,set,get --secs "$PREWARM" --warmup-secs 0 --value-bytes "$VALUE_BYTES" \
			>>"$WORKDIR/prewarm.txt" 2>&1 || die "the warm-up run failed (see $WORKDIR/prewarm.txt)"
	done
fi
BENCH_LIMIT=$(((SECONDS_RUN + WARMUP) * 2 * 3 + 300))
LOADS_CORRAL=("${LOADS[@]}")
uses corral || LOADS_CORRAL=()
for load in "${LOADS_CORRAL[@]}"; do
	read -r sessions in_flight ops <<<"$load"
	name="${sessions}x${in_flight}"
	log "bench $name: $ops"
	if ! run_bounded "$BENCH_LIMIT" "$CORRAL" bench --addr "$TARGETS" --pid "$TARGET_PIDS" \
		--sessions "$sessions" --in-flight "$in_flight" --ops "$ops" --duration-s "$SECONDS_RUN" \
		--warmup-s "$WARMUP" --value-bytes "$VALUE_BYTES" --json \
		>"$WORKDIR/bench-$name.json" 2>"$WORKDIR/bench-$name.err"; then
		cat "$WORKDIR/bench-$name.err" >&"$LOG_FD"
		die "bench $name failed"
	fi
	while IFS=$'\t' read -r workload target ops_s p99 p999 errors cpu failure; do
		R[tp.$name.$workload.$target.ops]="$ops_s"
		R[tp.$name.$workload.$target.p99]="$p99"
		R[tp.$name.$workload.$target.p999]="$p999"
		R[tp.$name.$workload.$target.err]="$errors"
		R[tp.$name.$workload.$target.cpu]="$cpu"
		[[ -n "$failure" ]] && log "  $target $workload: a session failed: $failure"
		log "  $target $workload: $(fmt "$ops_s" %.0f) ops/s, p99 $(fmt "$p99" %.2f) ms, server CPU $(fmt "$cpu" %.0f) us/op"
	done < <(jq -r '.results[] | [.workload, .target, .ops_per_s, (.latency.p99_us / 1000),
		(.latency.p999_us / 1000), .errors, (.cpu.server_us_per_op // ""), (.failure // "")] | @tsv' \
		"$WORKDIR/bench-$name.json")
done

# zkload: one run per load, op and ensemble, interleaved (Corral, ZooKeeper, per op); the
# connect string lists follower, follower, leader and --spread pinned puts session i on server
# i mod 3, as corral bench does; each run makes its own keys and removes what it made.
ZKLOAD_LIMIT=$((SECONDS_RUN + WARMUP + 120))
LOADS_ZKLOAD=("${LOADS[@]}")
uses zkload || LOADS_ZKLOAD=()
for load in "${LOADS_ZKLOAD[@]}"; do
	read -r sessions in_flight ops <<<"$load"
	name="${sessions}x${in_flight}"
	for op in ${ops//,/ }; do
		for target in corral zookeeper; do
			if [[ "$target" == corral ]]; then addrs=$C_ADDRS pids=$C_PIDS; else addrs=$Z_ADDRS pids=$Z_PIDS; fi
			f="$WORKDIR/zkload-$name-$op-$target"
			log "zkload $name $op: $target"
			if ! run_bounded "$ZKLOAD_LIMIT" "$ZKLOAD" --connect "${addrs//|/,}" --spread pinned \
				--pid "${pids//|/,}" --sessions "$sessions" --in-flight "$in_flight" --op "$op" \
				--secs "$SECONDS_RUN" --warmup-secs "$WARMUP" --value-bytes "$VALUE_BYTES" --json \
				>"$f.json" 2>"$f.err"; then
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

# (b) memory after the load
sleep 2
for kind in corral zk; do
	for i in $(seq 1 "$SERVERS"); do
		R[$kind.$i.rss]="$(status_mb "${PID[$kind.$i]}")"
		R[$kind.$i.hwm]="$(status_mb "${PID[$kind.$i]}" VmHWM)"
	done
done

# ---------------------------------------------------------------------------------------------
# (c) failover

# failover KIND N: kills the leader while a 1x1 write loop runs through a follower; restarts the
# killed server afterwards (but after the last trial)
failover() {
	local kind=$1 n=$2 leader i
	wait_quorum "$kind" 60 || die "$kind: no quorum before failover $n"
	leader=$LEADER
	order_servers "$kind" "$leader"
	log "$kind failover $n: SIGKILL server.$leader (pid ${PID[$kind.$leader]})"
	if ! run_bounded $((FAILOVER_WAIT + 60)) "$CORRAL" bench failover --addr "$kind=$ADDRS" \
		--kill-pid "${PID[$kind.$leader]}" --kill-after-s 3 --seconds "$FAILOVER_WAIT" \
		--value-bytes "$VALUE_BYTES" --json >"$WORKDIR/failover-$kind-$n.json" \
		2>"$WORKDIR/failover-$kind-$n.err"; then
		cat "$WORKDIR/failover-$kind-$n.err" >&"$LOG_FD"
		die "$kind failover $n: the bench failed"
	fi
	wait "${PID[$kind.$leader]}" 2>/dev/null || true
	local f="$WORKDIR/failover-$kind-$n.json"
	R[$kind.fo.$n.ms]="$(jq -r '.failover.failover_ms // ""' "$f")"
	R[$kind.fo.$n.gap]="$(jq -r '.failover.max_gap_ms // ""' "$f")"
	R[$kind.fo.$n.session]="$(jq -r '.failover.session' "$f")"
	R[$kind.fo.$n.refused]="$(jq -r '.failover.connects_failed' "$f")"
	R[$kind.fo.$n.lost]="$(jq -r '.failover.connections_lost' "$f")"
	R[$kind.fo.$n.p50]="$(jq -r '.failover.latency_before_kill.p50_us / 1000' "$f")"
	log "  failover $(fmt "${R[$kind.fo.$n.ms]}" %.0f) ms (longest gap $(fmt "${R[$kind.fo.$n.gap]}" %.0f) ms, session ${R[$kind.fo.$n.session]})"
	# The new leader, for the record, then the killed server back.
	if wait_quorum "$kind" 60 "$leader"; then
		R[$kind.fo.$n.new_leader]=$LEADER
	fi
	if ((n < FAILOVERS)); then
		launch "$kind" "$leader"
		wait_quorum "$kind" 60 || die "$kind: server.$leader did not rejoin"
	fi
}

for kind in corral zk; do
	for n in $(seq 1 "$FAILOVERS"); do failover "$kind" "$n"; done
done

# ---------------------------------------------------------------------------------------------
# (d) join

# zxid PORT: `srvr`'s Zxid, empty while the server does not serve
zxid() { fourlw "$1" srvr | awk -F': ' '/^Zxid:/ { print $2 }' | tr -d '\r'; }

# join KIND: populates the tree, then times a follower's start on an empty data directory
# until it follows at the leader's zxid
join() {
	local kind=$1 i joiner="" want started
	for i in $(seq 1 "$SERVERS"); do
		kill -0 "${PID[$kind.$i]}" 2>/dev/null || launch "$kind" "$i"
	done
	wait_quorum "$kind" 120 || die "$kind: no quorum before the join"
	local leader=$LEADER
	log "$kind join: populating $JOIN_NODES znodes through server.$leader"
	local t0=$SECONDS
	if ! run_bounded 1800 "$CORRAL" bench populate --addr "$kind=127.0.0.1:${PORT[$kind.$leader]}" \
		--nodes "$JOIN_NODES" --root /join --value-bytes "$VALUE_BYTES" \
		>"$WORKDIR/join-populate-$kind.out" 2>&1; then
		tail -n 20 "$WORKDIR/join-populate-$kind.out" >&"$LOG_FD"
		die "$kind join: populate failed"
	fi
	R[$kind.join.populate_s]=$((SECONDS - t0))
	for i in $(seq 1 "$SERVERS"); do [[ "$i" != "$leader" ]] && joiner=$i && break; done
	want="$(zxid "${PORT[$kind.$leader]}")"
	[[ -n "$want" ]] || die "$kind join: the leader did not answer srvr"
	kill -KILL "${PID[$kind.$joiner]}" 2>/dev/null || true
	wait "${PID[$kind.$joiner]}" 2>/dev/null || true
	find "${DIR[$kind.$joiner]}/data" -mindepth 1 -maxdepth 1 ! -name myid -exec rm -rf {} +
	log "$kind join: server.$joiner restarted on an empty data directory; leader zxid $want"
	started=$(date +%s%N)
	launch "$kind" "$joiner"
	local deadline=$((SECONDS + JOIN_WAIT))
	while ((SECONDS < deadline)); do
		if [[ "$(mode "${PORT[$kind.$joiner]}")" == follower && "$(zxid "${PORT[$kind.$joiner]}")" == "$want" ]]; then
			R[$kind.join.ms]=$((($(date +%s%N) - started) / 1000000))
			R[$kind.join.rss]="$(status_mb "${PID[$kind.$joiner]}")"
			R[$kind.join.leader_rss]="$(status_mb "${PID[$kind.$leader]}")"
			log "  joined in ${R[$kind.join.ms]} ms"
			return 0
		fi
		kill -0 "${PID[$kind.$joiner]}" 2>/dev/null || die "$kind join: server.$joiner died (see ${DIR[$kind.$joiner]}/server.log)"
		sleep 0.05
	done
	log "$kind join: server.$joiner did not catch up within $JOIN_WAIT s"
}

if ((JOIN_NODES > 0)); then
	for kind in corral zk; do join "$kind"; done
fi

stop_ensemble corral
stop_ensemble zk
T_TOTAL=$((SECONDS - T_START))

# ---------------------------------------------------------------------------------------------
# Report

# timeline FILE: a failover's events, "ms<TAB>what", the middle left out when long
timeline() {
	local lines
	lines="$(jq -r '.failover as $f | $f.events | to_entries[] |
		(if $f.events_gap_at == .key then "…\t(\($f.events_dropped) events)\n" else "" end) +
		"\(.value.at_ms | . * 10 | round / 10)\t\(.value.what)"' "$1" 2>/dev/null || true)"
	if (($(wc -l <<<"$lines") > 30)); then
		head -n 14 <<<"$lines"
		echo "…	($(($(wc -l <<<"$lines") - 28)) lines)"
		tail -n 14 <<<"$lines"
	else
		echo "$lines"
	fi
}

# throughput_table PREFIX: the (a) table of one load generator's results, R[PREFIX.<load>.<op>.*]
throughput_table() {
	echo "| load | op | Corral ops/s | ZK ops/s | ops/s C/ZK | Corral p99 ms | ZK p99 ms | p99 C/ZK | Corral p99.9 ms | ZK p99.9 ms | p99.9 C/ZK | Corral CPU µs/op | ZK CPU µs/op | CPU C/ZK |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	local load sessions in_flight ops op name c z
	for load in "${LOADS[@]}"; do
		read -r sessions in_flight ops <<<"$load"
		name="${sessions}x${in_flight}"
		for op in ${ops//,/ }; do
			c="$1.$name.$op.corral"
			z="$1.$name.$op.zookeeper"
			echo "| ${sessions}×${in_flight} | $op" \
				"| $(fmt "${R[$c.ops]:-}" '%.0f') | $(fmt "${R[$z.ops]:-}" '%.0f') | $(ratio "${R[$c.ops]:-}" "${R[$z.ops]:-}")" \
				"| $(fmt "${R[$c.p99]:-}" '%.2f') | $(fmt "${R[$z.p99]:-}" '%.2f') | $(ratio "${R[$c.p99]:-}" "${R[$z.p99]:-}")" \
				"| $(fmt "${R[$c.p999]:-}" '%.2f') | $(fmt "${R[$z.p999]:-}" '%.2f') | $(ratio "${R[$c.p999]:-}" "${R[$z.p999]:-}")" \
				"| $(fmt "${R[$c.cpu]:-}" '%.0f') | $(fmt "${R[$z.cpu]:-}" '%.0f') | $(ratio "${R[$c.cpu]:-}" "${R[$z.cpu]:-}") |"
		done
	done
	echo
}

report() {
	echo "# 3-server Corral ensemble vs 3-server Apache ZooKeeper ${ZK_VERSION:-3.8} ensemble"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname), $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) RAM;"
	echo "corral $CORRAL_REV (release), ${JAVA_VERSION}, ZooKeeper -Xmx$ZK_HEAP; data on $DISK."
	local gens="\`corral bench\` (Corral's own client) and \`zkload\` (the zookeeper-client crate)"
	uses zkload || gens="\`corral bench\`"
	uses corral || gens="\`zkload\` (the zookeeper-client crate)"
	echo "All six servers and the load generator on this machine's $(nproc) cores, 127.0.0.1;"
	echo "load generators: $gens, one after the other;"
	echo "both ensembles up at once, workloads interleaved (Corral, then ZooKeeper, per workload)."
	echo "tickTime=2000, initLimit=10, syncLimit=5, forceSync=yes on both; ${VALUE_BYTES}-byte values;"
	echo "${SECONDS_RUN} s measured after ${WARMUP} s warmup per workload, all after one unmeasured round of"
	echo "create, set and get at 16×4 for ${PREWARM} s each (JIT warm-up). Sessions round robin over"
	echo "follower, follower, leader (1×1: the session is on a follower). Load average at start"
	echo "$LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: compare only within one run);"
	echo "the whole run took ${T_TOTAL} s. Raw fdatasync rate of that disk (${VALUE_BYTES}-byte writes, one"
	echo "writer): $(fmt "${R[fsync.preallocated]}" %.0f)/s in a preallocated file (p50 $(fmt "${R[fsync.preallocated.p50]}" %.3f) ms)," \
		"$(fmt "${R[fsync.append]}" %.0f)/s appending."
	echo
	if uses corral; then
		echo "## Throughput and latency (sessions × in flight), \`corral bench\`"
		echo
		echo "Server CPU: user + system time of the three server processes together, per op."
		echo
		throughput_table tp
	fi
	if uses zkload; then
		echo "## Throughput and latency (sessions × in flight), \`zkload\` (zookeeper-client crate)"
		echo
		echo "One zkload run per load, op and ensemble (Corral, then ZooKeeper, per op), sessions pinned"
		echo "round robin as above; each run makes its own 1000 keys and removes what it made. Server CPU:"
		echo "user + system time of the three server processes together, per op."
		echo
		throughput_table zl
	fi
	local errs="" key
	for key in "${!R[@]}"; do
		[[ "$key" == tp.*.err || "$key" == zl.*.err ]] && [[ "${R[$key]}" != 0 ]] && errs+=" ${key%.err}=${R[$key]}"
	done
	[[ -n "$errs" ]] && echo "Failed requests (tp: corral bench, zl: zkload; kinds in the log):$errs" && echo
	echo "## Failover (SIGKILL of the leader under a 1×1 setData loop through a follower)"
	echo
	echo "Time from the kill to the first acknowledged write sent after it; the session re-attaches"
	echo "round robin over the ensemble, pausing 20 ms after every 3 failures in a row (refused connects,"
	echo "or connections lost before a write was acknowledged on them) and not otherwise. A connection"
	echo "lost right after it was made means the server took the session, then dropped it on the write."
	echo
	local cf=() zf=() n
	for n in $(seq 1 "$FAILOVERS"); do
		[[ -n "${R[corral.fo.$n.ms]:-}" ]] && cf+=("${R[corral.fo.$n.ms]}")
		[[ -n "${R[zk.fo.$n.ms]:-}" ]] && zf+=("${R[zk.fo.$n.ms]}")
	done
	local cm zm
	cm="$(median "${cf[@]}")"
	zm="$(median "${zf[@]}")"
	echo "| | Corral | ZooKeeper | Corral/ZK |"
	echo "|---|---:|---:|---:|"
	echo "| failover ms, median of $FAILOVERS | $(fmt "$cm" %.0f) | $(fmt "$zm" %.0f) | $(ratio "$cm" "$zm") |"
	for n in $(seq 1 "$FAILOVERS"); do
		echo "| trial $n: failover ms (longest gap between acks ms) | $(fmt "${R[corral.fo.$n.ms]:-}" %.0f) ($(fmt "${R[corral.fo.$n.gap]:-}" %.0f))" \
			"| $(fmt "${R[zk.fo.$n.ms]:-}" %.0f) ($(fmt "${R[zk.fo.$n.gap]:-}" %.0f)) | $(ratio "${R[corral.fo.$n.ms]:-}" "${R[zk.fo.$n.ms]:-}") |"
		echo "| trial $n: session after; connections lost; connects refused" \
			"| ${R[corral.fo.$n.session]:-—}; ${R[corral.fo.$n.lost]:-—}; ${R[corral.fo.$n.refused]:-—}" \
			"| ${R[zk.fo.$n.session]:-—}; ${R[zk.fo.$n.lost]:-—}; ${R[zk.fo.$n.refused]:-—} | |"
	done
	echo "| setData p50 ms before the kill (trial 1) | $(fmt "${R[corral.fo.1.p50]:-}" %.2f) | $(fmt "${R[zk.fo.1.p50]:-}" %.2f) | $(ratio "${R[corral.fo.1.p50]:-}" "${R[zk.fo.1.p50]:-}") |"
	echo
	if ((JOIN_NODES > 0)); then
		echo "## A new server joins ($JOIN_NODES znodes)"
		echo
		echo "A follower killed, its data directory emptied (myid kept) and started again; time from"
		echo "its start to \`srvr\` showing it following at the leader's zxid (no writes meanwhile)."
		echo
		echo "| | Corral | ZooKeeper | Corral/ZK |"
		echo "|---|---:|---:|---:|"
		echo "| join ms | $(fmt "${R[corral.join.ms]:-}" %.0f) | $(fmt "${R[zk.join.ms]:-}" %.0f) | $(ratio "${R[corral.join.ms]:-}" "${R[zk.join.ms]:-}") |"
		echo "| RSS of the joined server MB | $(fmt "${R[corral.join.rss]:-}" %.0f) | $(fmt "${R[zk.join.rss]:-}" %.0f) | $(ratio "${R[corral.join.rss]:-}" "${R[zk.join.rss]:-}") |"
		echo "| RSS of the leader MB | $(fmt "${R[corral.join.leader_rss]:-}" %.0f) | $(fmt "${R[zk.join.leader_rss]:-}" %.0f) | $(ratio "${R[corral.join.leader_rss]:-}" "${R[zk.join.leader_rss]:-}") |"
		echo "| populate s (\`corral bench populate\`, for the record) | ${R[corral.join.populate_s]:-—} | ${R[zk.join.populate_s]:-—} | |"
		echo
	fi
	echo "## Memory and idle CPU"
	echo
	echo "| | Corral | ZooKeeper | Corral/ZK |"
	echo "|---|---:|---:|---:|"
	local i cs zs row label field
	for row in "RSS idle after start MB|rss_idle" "RSS after the load MB|rss" "peak RSS (VmHWM) MB|hwm"; do
		IFS='|' read -r label field <<<"$row"
		for i in $(seq 1 "$SERVERS"); do
			local role_c="" role_z=""
			[[ "$i" == "${R[corral.leader]}" ]] && role_c=" (leader)"
			[[ "$i" == "${R[zk.leader]}" ]] && role_z=" (leader)"
			echo "| $label, server.$i | $(fmt "${R[corral.$i.$field]:-}" %.0f)$role_c | $(fmt "${R[zk.$i.$field]:-}" %.0f)$role_z" \
				"| $(ratio "${R[corral.$i.$field]:-}" "${R[zk.$i.$field]:-}") |"
		done
		cs="$(awk -v a="${R[corral.1.$field]:-0}" -v b="${R[corral.2.$field]:-0}" -v c="${R[corral.3.$field]:-0}" 'BEGIN { print a + b + c }')"
		zs="$(awk -v a="${R[zk.1.$field]:-0}" -v b="${R[zk.2.$field]:-0}" -v c="${R[zk.3.$field]:-0}" 'BEGIN { print a + b + c }')"
		echo "| $label, 3 servers | $(fmt "$cs" %.0f) | $(fmt "$zs" %.0f) | $(ratio "$cs" "$zs") |"
	done
	echo "| idle CPU, 3 servers, % of a core (5 s after start) | $(fmt "${R[corral.idle_cpu_pct]}" %.2f) | $(fmt "${R[zk.idle_cpu_pct]}" %.2f) | $(ratio "${R[corral.idle_cpu_pct]}" "${R[zk.idle_cpu_pct]}") |"
	echo
	echo "RSS after the load: 2 s after the last workload (each bench run deletes the nodes it made"
	echo "when it ends; the memory the servers took meanwhile is what stays)."
	echo
	echo "## Failover timelines (trial 1)"
	local kind
	for kind in corral zk; do
		echo
		echo "$kind (ms after the kill):"
		echo
		echo '```'
		timeline "$WORKDIR/failover-$kind-1.json"
		echo '```'
	done
}

report >"$WORKDIR/results.md"
cat "$WORKDIR/results.md"
if [[ -n "$OUT" ]]; then
	cp "$WORKDIR/results.md" "$OUT"
	log "written to $OUT"
fi
