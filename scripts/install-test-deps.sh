#!/usr/bin/env bash
# Installs what Corral's differential tests need on a Debian (bookworm) machine:
#   * Apache ZooKeeper's jars and tools from Debian (zookeeper, zookeeper-bin,
#     libzookeeper-java) plus a headless JRE when `java` is missing;
#   * the jars ZooKeeper's AdminServer needs on its classpath (libservlet-api-java; Jetty and
#     Jackson come with libzookeeper-java) and `promtool` (prometheus) to check /metrics;
#   * a Python virtualenv with kazoo and pytest at $CORRAL_VENV (default <repo>/.venv).
# It never installs or starts `zookeeperd`, and stops any `zookeeper` system service.
#
# Idempotent: a step whose result is already there prints one "ok" line and does nothing.
# Runs as root, non-interactively (CI=true, no stdin). Exits non-zero with a message on failure.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CORRAL_VENV:-$REPO_DIR/.venv}"
# pure-sasl: kazoo's SASL client (tests/kazoo/test_abuse.py checks a client with sasl_options).
PY_PACKAGES=(kazoo pytest pure-sasl)
DEB_PACKAGES=(zookeeper zookeeper-bin libzookeeper-java libservlet-api-java prometheus)
REQUIRED_JARS=(/usr/share/java/zookeeper.jar /usr/share/java/netty-codec.jar /usr/share/java/netty-resolver.jar
    /usr/share/java/servlet-api.jar /usr/share/java/jetty9-server.jar)
export DEBIAN_FRONTEND=noninteractive

step() { printf 'install-test-deps: %s\n' "$*"; }
die() {
    printf 'install-test-deps: ERROR: %s\n' "$*" >&2
    exit 1
}

LOG="$(mktemp -t install-test-deps.XXXXXX.log)"
trap 'rm -f "$LOG"' EXIT
# Runs a command with its output sent to $LOG; on failure shows the log's tail and dies.
run_logged() {
    local what="$1"
    shift
    if ! "$@" >"$LOG" 2>&1 </dev/null; then
        tail -n 30 "$LOG" >&2 || true
        die "$what failed: $*"
    fi
}

deb_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# A Python able to make a virtualenv with pip in it.
python_can_venv() {
    "$1" -c 'import venv, ensurepip' >/dev/null 2>&1
}

# --- 1. Debian packages -------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install needs it)"
command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian only"

missing=()
for p in "${DEB_PACKAGES[@]}"; do
    deb_installed "$p" || missing+=("$p")
done
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)

venv_ready=false
venv_usable=false
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' >/dev/null 2>&1; then
    venv_usable=true
    if "$VENV/bin/python" -c 'import kazoo, pytest, puresasl' >/dev/null 2>&1; then
        venv_ready=true
    fi
fi
PYTHON=""
if ! $venv_usable; then
    if command -v python3 >/dev/null 2>&1 && python_can_venv "$(command -v python3)"; then
        PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
    elif [ -x /usr/bin/python3 ] && python_can_venv /usr/bin/python3; then
        PYTHON=/usr/bin/python3
    else
        deb_installed python3 || missing+=(python3)
        deb_installed python3-venv || missing+=(python3-venv)
        PYTHON=/usr/bin/python3
    fi
fi

if [ "${#missing[@]}" -eq 0 ]; then
    step "debian packages: ok (${DEB_PACKAGES[*]} and java already installed)"
else
    step "debian packages: installing ${missing[*]}"
    run_logged "apt-get update" apt-get -o DPkg::Lock::Timeout=300 update
    run_logged "apt-get install" apt-get -o DPkg::Lock::Timeout=300 install -y \
        --no-install-recommends "${missing[@]}"
fi

for p in "${DEB_PACKAGES[@]}"; do
    deb_installed "$p" || die "Debian package $p is still not installed"
done
command -v java >/dev/null 2>&1 || die "java not found on PATH after installing a JRE"
for j in "${REQUIRED_JARS[@]}"; do
    [ -f "$j" ] || die "expected jar $j is missing (is libzookeeper-java / libnetty-java installed?)"
done
step "java and jars: ok ($(java -version 2>&1 | head -n 1); ${REQUIRED_JARS[*]})"

# --- 2. No ZooKeeper system service ---------------------------------------------------------
# Debian's `zookeeper` package ships no service (that is `zookeeperd`), but stop one if present:
# it would hold port 2181 and compete for the machine's two cores.
stopped=none
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    if systemctl is-active --quiet zookeeper 2>/dev/null; then
        systemctl stop zookeeper >/dev/null 2>&1 || die "could not stop the zookeeper systemd service"
        stopped="stopped systemd unit zookeeper"
    fi
elif [ -x /etc/init.d/zookeeper ]; then
    if /etc/init.d/zookeeper status >/dev/null 2>&1 </dev/null; then
        /etc/init.d/zookeeper stop >/dev/null 2>&1 </dev/null || die "could not stop /etc/init.d/zookeeper"
        stopped="stopped /etc/init.d/zookeeper"
    fi
fi
if [ "$stopped" = none ]; then
    step "zookeeper service: ok (none running)"
else
    step "zookeeper service: $stopped"
fi
command -v promtool >/dev/null 2>&1 || die "promtool not found after installing prometheus"
# Only promtool is wanted from the prometheus package: a Prometheus server its install started
# (systemd machines) would compete for the cores.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] &&
    systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl disable --now prometheus >/dev/null 2>&1 || die "could not stop the prometheus service"
    step "prometheus service: stopped and disabled (only promtool is used)"
else
    step "promtool: ok (no prometheus service running)"
fi

# --- 3. Python virtualenv with kazoo and pytest -------------------------------------------
if $venv_ready; then
    step "python venv: ok ($VENV has ${PY_PACKAGES[*]})"
else
    if ! $venv_usable; then
        python_can_venv "$PYTHON" || die "$PYTHON cannot create a virtualenv (no venv/ensurepip module)"
        step "python venv: creating $VENV with $PYTHON"
        # --clear replaces a broken venv (e.g. one whose interpreter was removed).
        run_logged "creating the virtualenv" "$PYTHON" -m venv --clear "$VENV"
    fi
    step "python venv: pip-installing ${PY_PACKAGES[*]} into $VENV"
    run_logged "pip install" "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input "${PY_PACKAGES[@]}"
    "$VENV/bin/python" -c 'import kazoo, pytest, puresasl' >/dev/null 2>&1 ||
        die "kazoo/pytest still not importable from $VENV/bin/python"
fi
