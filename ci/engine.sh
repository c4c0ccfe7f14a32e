#!/usr/bin/env bash
# Make a Docker engine answer on this machine, and make sure the image tools r2o needs are installed.
#
#   ci/engine.sh          silent and exit 0 when all is well; a message and exit 1 when not.
#
# What it does, only where needed (so running it again is cheap and changes nothing):
#   1. installs Debian's docker.io (dockerd + CLI), mmdebstrap (the root base image's rootfs) and
#      docker-registry (the local OCI registry the Docker tier talks to), with apt-get, as root;
#   2. starts dockerd in the background, detached so that it outlives this script, logging to
#      /var/log/r2o-dockerd.log, and waits until `docker info` answers.
#
# Environment: R2O_ENGINE_TIMEOUT (seconds to wait for dockerd, default 60),
#              R2O_DOCKERD_LOG (default /var/log/r2o-dockerd.log).
#
# A newer docker CLI (e.g. v28) works against Debian's dockerd 20.10 (API 1.41): the CLI and the
# Python docker SDK negotiate the API version, so DOCKER_API_VERSION is deliberately left unset.
set -euo pipefail

timeout_s="${R2O_ENGINE_TIMEOUT:-60}"
log="${R2O_DOCKERD_LOG:-/var/log/r2o-dockerd.log}"
apt_updated=0

fail() {
    echo "ci/engine.sh: $*" >&2
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt-get install the packages given as arguments, running `apt-get update` at most once per run.
apt_install() {
    is_root || fail "cannot install $* (needs root); install them with: sudo apt-get install $*"
    command -v apt-get >/dev/null 2>&1 || fail "cannot install $*: apt-get not found (not a Debian system?)"
    local out
    if [ "$apt_updated" -eq 0 ]; then
        if ! out="$(apt-get update -qq 2>&1)"; then
            fail "apt-get update failed:
$(tail -n 20 <<<"$out")"
        fi
        apt_updated=1
    fi
    # --no-install-recommends keeps needrestart, git and friends out; what is listed is what r2o uses.
    if ! out="$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" 2>&1)"; then
        fail "apt-get install $* failed:
$(tail -n 20 <<<"$out")"
    fi
}

# Debian packages, each with the command that shows it is installed.
missing=()
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)

engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if engine_answers; then
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    # containerd and runc come as docker.io's dependencies; xz-utils lets `docker load` read .tar.xz.
    missing+=(docker.io xz-utils)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
fi

# A dockerd that is already starting (its pid file names a live process) is waited for, not doubled.
dockerd_running() {
    local pid
    [ -s /var/run/docker.pid ] || return 1
    pid="$(cat /var/run/docker.pid 2>/dev/null)" || return 1
    # /proc rather than kill -0: a non-root caller may not signal root's dockerd but can see it.
    # The comm check keeps a stale pid file, whose pid now belongs to another process, from counting.
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]
}

# alive PID: the process exists and is not a zombie (our own exited child stays a zombie until reaped).
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 <"/proc/$1/stat" 2>/dev/null)" != Z ]; }

if ! is_root && dockerd_running; then
    # Waiting would not help: the engine runs, this user may not talk to it (or DOCKER_HOST is wrong).
    fail "a dockerd runs but \`docker info\` fails for $(id -un): $(docker info 2>&1 | tail -n 1)
Add this user to the docker group, or run as root."
fi

started_pid=""
if ! dockerd_running; then
    is_root || fail "no Docker engine answers and dockerd can only be started as root; start it (sudo dockerd) or set DOCKER_HOST"
    mkdir -p "$(dirname "$log")"
    # setsid + nohup: dockerd gets its own session, so it survives this script and its terminal.
    setsid nohup dockerd >>"$log" 2>&1 </dev/null &
    started_pid=$!
fi

deadline=$((SECONDS + timeout_s))
until docker info >/dev/null 2>&1; do
    if [ -n "$started_pid" ] && ! alive "$started_pid"; then
        # The daemon we started has exited: no point waiting for the rest of the timeout.
        fail "dockerd exited while starting. Last lines of $log:
$(tail -n 25 "$log" 2>/dev/null || echo '(no log)')"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        if [ -z "$started_pid" ]; then
            fail "a dockerd is running (pid $(cat /var/run/docker.pid 2>/dev/null), not started by this script) but \`docker info\` still fails after ${timeout_s}s: $(docker info 2>&1 | tail -n 1)"
        fi
        fail "dockerd did not answer within ${timeout_s}s (\`docker info\` still fails). Last lines of $log:
$(tail -n 25 "$log" 2>/dev/null || echo '(no log)')"
    fi
    sleep 0.5
done
