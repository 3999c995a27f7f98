#!/bin/sh
# Entrypoint of the klerno-node image (installed as /usr/local/bin/klerno-entrypoint).
#
# It fills in the two things a container cannot know before it starts, then execs klerno-node
# with the container's arguments, so that klerno-node is PID 1 and receives SIGTERM itself.
#
# 1. The advertised cluster address. When the cluster listener binds every interface
#    (CLUSTER_BIND_ADDRESS=0.0.0.0 or ::, set in the environment) and CLUSTER_ADVERTISE_HOST is
#    empty, it is set to this container's own IP address (the first non-loopback address of
#    `hostname -i`). Left alone, klerno-node would advertise its host name, which other
#    containers may not resolve and which it cannot match against its own address in the seed
#    list. Kubernetes sets CLUSTER_ADVERTISE_HOST from status.podIP instead.
#
# 2. The bootstrap node. KLERNO_BOOTSTRAP_HOST (read only here; not a klerno-node setting) names
#    the one host that may form a new cluster: the container whose host name equals it gets
#    CLUSTER_BOOTSTRAP=true, every other one CLUSTER_BOOTSTRAP=false (whatever the environment
#    said), so a StatefulSet whose pods share one environment bootstraps on pod 0 only
#    (KLERNO_BOOTSTRAP_HOST=klerno-0). Unset: CLUSTER_BOOTSTRAP is left as given.
#    The bootstrap host also gets an empty CLUSTER_SEEDS: it needs none, since it joins an
#    existing cluster through the members the membership table shows up and forms one only when
#    none is (so its seed list cannot point it at itself or at pods still starting).
#
# Settings given in a config file (--config, KLERNO_CONFIG) are not seen here: set
# CLUSTER_BIND_ADDRESS in the environment, or CLUSTER_ADVERTISE_HOST yourself.
set -eu

note() {
  # One line on stderr, unless the node logs JSON lines (a plain line would break the stream).
  if [ "${LOG_FORMAT:-text}" != json ]; then
    printf 'klerno-entrypoint: %s\n' "$*" >&2
  fi
}

if [ -n "${KLERNO_BOOTSTRAP_HOST:-}" ]; then
  if [ "$(hostname)" = "$KLERNO_BOOTSTRAP_HOST" ]; then
    CLUSTER_BOOTSTRAP=true
    CLUSTER_SEEDS=""
    export CLUSTER_SEEDS
    note "this is $KLERNO_BOOTSTRAP_HOST: CLUSTER_BOOTSTRAP=true, CLUSTER_SEEDS empty (joins through the membership table)"
  else
    CLUSTER_BOOTSTRAP=false
  fi
  export CLUSTER_BOOTSTRAP
fi

if [ -z "${CLUSTER_ADVERTISE_HOST:-}" ]; then
  case "${CLUSTER_BIND_ADDRESS:-}" in
    0.0.0.0 | :: | "[::]")
      own=""
      for a in $(hostname -i 2>/dev/null || true); do
        case "$a" in
          127.* | ::1) ;;
          *)
            own=$a
            break
            ;;
        esac
      done
      if [ -n "$own" ]; then
        CLUSTER_ADVERTISE_HOST=$own
        export CLUSTER_ADVERTISE_HOST
        note "CLUSTER_ADVERTISE_HOST=$own (this container's address)"
      else
        note "cannot find this container's address; set CLUSTER_ADVERTISE_HOST"
      fi
      ;;
  esac
fi

exec /usr/local/bin/klerno-node "$@"
