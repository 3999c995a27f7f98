# Shared helpers for the scripts in this directory (sourced, not run).
# shellcheck shell=bash

KLERNO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KLERNO_BUILD_DIR=${KLERNO_BUILD_DIR:-$KLERNO_ROOT/build/release}
KLERNO_RUN_DIR=${KLERNO_RUN_DIR:-$KLERNO_ROOT/.run}
# PostgreSQL of the local stack (scripts/pg start/stop; data, logs and env file).
KLERNO_PG_DIR=${KLERNO_PG_DIR:-$KLERNO_RUN_DIR/pg}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root (directly, or through sudo when available).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (install sudo or run as root)"
  fi
}

# Installs the Debian packages of the named groups that are missing.
#   build: compilers and libraries; test: + the test framework; bench: + nginx, wrk
#   pg: the PostgreSQL server and client (scripts/pg; the binaries are found with pg_config)
#   lb: nginx, the local stack's load balancer
#   redis: redis-server (scripts/redis: the cache of the tests and of the local stack)
#   monitoring: Prometheus and promtool (scripts/prometheus: up --monitoring, the monitoring tests)
ensure_packages() {
  local pkgs=()
  for group in "$@"; do
    case "$group" in
      build) pkgs+=(g++ cmake ninja-build pkg-config libcaf-dev libboost-dev libspdlog-dev libfmt-dev libhiredis-dev
                    nlohmann-json3-dev libssl-dev curl libpqxx-dev
                    libprotobuf-dev protobuf-compiler) ;;
      test) pkgs+=(catch2 clang-format curl python3 python3-yaml prometheus) ;;
      bench) pkgs+=(nginx-light wrk curl python3) ;;
      pg) pkgs+=(libpq-dev postgresql) ;;
      redis) pkgs+=(redis-server) ;;
      lb) pkgs+=(nginx-light) ;;
      monitoring) pkgs+=(prometheus) ;;
      *) die "unknown package group: $group" ;;
    esac
  done
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Configures (once) and builds the Release tree.
build_release() {
  local gen=()
  command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
  if [ ! -f "$KLERNO_BUILD_DIR/CMakeCache.txt" ]; then
    log "configuring $KLERNO_BUILD_DIR"
    cmake -S "$KLERNO_ROOT" -B "$KLERNO_BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  log "building (Release)"
  cmake --build "$KLERNO_BUILD_DIR" --parallel "$(nproc)" "$@"
}

KLERNO_NODE_BIN() { printf '%s/node/klerno-node' "$KLERNO_BUILD_DIR"; }

# Prints the value of a key in a JSON ports file written by klerno-node (PORTS_FILE).
ports_get() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1"; }

# Waits until $1 answers 200 or the deadline ($2 seconds) passes.
wait_http_ok() {
  local url=$1 deadline=$((SECONDS + ${2:-10}))
  while [ $SECONDS -lt $deadline ]; do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Prints the value of KEY in a file of KEY=VALUE lines (e.g. the env file of scripts/pg).
kv_get() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# Stops the process of .run/NAME.pid gracefully: SIGTERM, then SIGKILL after $2 seconds (default
# 30); removes its pid and ports files. Returns 0 when it was running.
stop_process() {
  local name=$1 grace=${2:-30} pidfile="$KLERNO_RUN_DIR/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  local was_running=1
  if kill -0 "$pid" 2>/dev/null; then
    was_running=0
    kill -TERM "$pid"
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop within $grace s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile" "$KLERNO_RUN_DIR/$name.ports"
  return $was_running
}

# True while process $1 exists and is not a zombie (a daemonized server's parent is init, which
# may be slow to reap it, or not reap it at all in a container).
alive() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# True when something listens on TCP port $1 (any address).
port_busy() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# Sets PORT to the first free one of the candidates ($@, empty ones skipped), else to a random
# free port in 20000..31999 (below Linux's ephemeral range), never one of $AVOID_PORTS.
AVOID_PORTS=""
choose_port() {
  local p
  for p in "$@" $(for _ in $(seq 100); do echo $((20000 + (RANDOM * 32768 + RANDOM) % 12000)); done); do
    [ -n "$p" ] || continue
    case " $AVOID_PORTS " in *" $p "*) continue ;; esac
    port_busy "$p" && continue
    PORT=$p
    return 0
  done
  return 1
}
