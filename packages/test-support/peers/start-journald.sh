#!/usr/bin/env bash
# Starts a private, real systemd-journald for the tests of @logstream/backend-journald, without
# systemd as PID 1. Adapted from a recipe that starts journald in a private namespace.
#
# journald runs in namespace mode (`systemd-journald NAME`, as systemd-journald@NAME.service would):
# it binds its own sockets, does not read /dev/kmsg and writes straight to persistent storage.
# When mount namespaces are allowed (root / CAP_SYS_ADMIN) it is confined: in a private mount
# namespace /run and /var/log are bind-mounted from a temp dir, so nothing outside that dir is
# touched. Otherwise (fallback, JOURNALD_MODE=plain) it uses /run/systemd/journal.NAME and
# /var/log/journal/<machine-id>.NAME with a unique NAME, which stop-peer.sh removes again.
#
# Usage: start-journald.sh [--base DIR] [NAMESPACE]     (default namespace: logstream)
#   --base DIR  start again in the temp dir of a journald stopped with KEEP_PEER_DATA=1: same
#               socket path, same journal directory (a journald restart, as systemd does it).
# Env:   LOGSTREAM_PEER_TMP     parent dir of the temp dir (default: ${TMPDIR:-/tmp})
#        JOURNALD_NO_UNSHARE=1  force the fallback mode
#        JOURNALD_START_TIMEOUT seconds to wait for readiness (default 15)
# Prints KEY=VALUE lines (also saved to $BASE/env): JOURNALD_PID, JOURNALD_SOCKET (native protocol,
# datagram), JOURNALD_DIRECTORY (for `journalctl --directory=`), JOURNALD_NAMESPACE,
# JOURNALD_BASE, JOURNALD_LOG (journald's own log), JOURNALD_MODE (unshare or plain).
# Stop with: stop-peer.sh systemd-journal "$JOURNALD_PID" "$JOURNALD_BASE"
set -euo pipefail

BASE=""
if [ "${1:-}" = "--base" ]; then
  BASE="${2:?start-journald: --base needs a directory}"
  shift 2
fi

JOURNALD_BIN=""
for c in /lib/systemd/systemd-journald /usr/lib/systemd/systemd-journald; do
  if [ -x "$c" ]; then JOURNALD_BIN="$c"; break; fi
done
if [ -z "$JOURNALD_BIN" ]; then
  echo "start-journald: systemd-journald not found (apt-get install systemd)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "start-journald: must run as root" >&2
  exit 1
fi

if [ ! -s /etc/machine-id ]; then
  echo "start-journald: /etc/machine-id missing, creating it with systemd-machine-id-setup" >&2
  systemd-machine-id-setup >&2
fi
MID="$(tr -d '[:space:]' </etc/machine-id)"

FRESH=1
if [ -n "$BASE" ]; then
  # A restart: the dir must be one of ours, and it fixes the mode and namespace of the first start.
  if [ ! -f "$BASE/.logstream-peer" ] || [ ! -f "$BASE/mode" ] || [ ! -f "$BASE/namespace" ]; then
    echo "start-journald: $BASE is not the dir of a journald started by start-journald.sh" >&2
    exit 1
  fi
  FRESH=0
  MODE="$(cat "$BASE/mode")"
  NS="$(cat "$BASE/namespace")"
else
  NS="${1:-logstream}"
  case "$NS" in
    *[!A-Za-z0-9_-]* | "") echo "start-journald: bad namespace name '$NS'" >&2; exit 1 ;;
  esac
  PARENT="${LOGSTREAM_PEER_TMP:-${TMPDIR:-/tmp}}"
  BASE="$(mktemp -d "$PARENT/ls-journald.XXXXXX")"
  touch "$BASE/.logstream-peer"
  MODE=unshare
  if [ "${JOURNALD_NO_UNSHARE:-0}" = 1 ] || ! unshare -m --propagation private true 2>/dev/null; then
    MODE=plain
    # Plain mode uses the real system paths, so the namespace name must be unique.
    NS="$NS-$(basename "$BASE" | sed 's/^ls-journald\.//')"
  fi
  echo "$MODE" >"$BASE/mode"
  echo "$NS" >"$BASE/namespace"
fi
LOG="$BASE/journald.log"
PID=""

# On failure: stop what we started; remove what a fresh start created (KEEP_PEER_DATA=1 keeps it).
cleanup_on_error() {
  rc=$?
  if [ "$rc" != 0 ]; then
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; sleep 0.2; fi
    if [ "$FRESH" = 1 ] && [ "${KEEP_PEER_DATA:-0}" != 1 ]; then
      if [ -f "$BASE/cleanup-paths" ]; then
        while IFS= read -r p; do rm -rf -- "$p"; done <"$BASE/cleanup-paths"
      fi
      rm -rf -- "$BASE"
    else
      echo "start-journald: kept $BASE" >&2
    fi
  fi
}
trap cleanup_on_error EXIT

if [ "$MODE" = unshare ]; then
  # Inside the private mount namespace: /run -> $BASE/run and /var/log -> $BASE/var-log.
  RUNDIR="$BASE/run"
  mkdir -p "$RUNDIR/systemd" "$RUNDIR/log" "$BASE/var-log/journal"
  SOCKDIR="$RUNDIR/systemd/journal.$NS"
  CONFDIR="$RUNDIR/systemd/journald@$NS.conf.d"
  JDIR="$BASE/var-log/journal/$MID.$NS"
else
  SOCKDIR="/run/systemd/journal.$NS"
  CONFDIR="/run/systemd/journald@$NS.conf.d"
  JDIR="/var/log/journal/$MID.$NS"
  mkdir -p /run/systemd
  # The exact paths stop-peer.sh removes.
  printf '%s\n' "$SOCKDIR" "$CONFDIR" "$JDIR" "/run/log/journal/$MID.$NS" >"$BASE/cleanup-paths"
fi

# Sockets left by a stopped journald: removed so that readiness below means the new one is bound.
rm -f -- "$SOCKDIR/socket" "$SOCKDIR/stdout" "$SOCKDIR/dev-log" "$SOCKDIR/io.systemd.journal"

mkdir -p "$CONFDIR"
cat >"$CONFDIR/50-logstream-test.conf" <<'CONF'
[Journal]
Storage=persistent
RateLimitIntervalSec=0
RateLimitBurst=0
MaxLevelStore=debug
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
SystemMaxUse=256M
CONF

# setsid: own session; stdio to a file so that `$(start-journald.sh)` does not wait on it.
# SYSTEMD_LOG_TARGET=console: journald's own messages go to $LOG, never to /dev/kmsg.
# Nothing here forks (setsid of a non-group-leader, unshare without --fork, sh exec), so $! is
# journald's PID. LOGSTREAM_PEER_BASE marks the process as ours for stop-peer.sh.
export LOGSTREAM_PEER_BASE="$BASE" SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL="${JOURNALD_LOG_LEVEL:-info}"
if [ "$MODE" = unshare ]; then
  # shellcheck disable=SC2016  # $1..$3 are expanded by the inner sh
  setsid unshare -m --propagation private sh -c \
    'mount --bind "$1/run" /run && mount --bind "$1/var-log" /var/log && exec "$2" "$3"' \
    sh "$BASE" "$JOURNALD_BIN" "$NS" </dev/null >>"$LOG" 2>&1 &
else
  setsid "$JOURNALD_BIN" "$NS" </dev/null >>"$LOG" 2>&1 &
fi
PID=$!

# Ready when the native socket and the journal file exist (datagrams sent once the socket exists
# wait in the kernel until journald reads them).
TIMEOUT="${JOURNALD_START_TIMEOUT:-15}"
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "start-journald: journald exited early; log:" >&2
    cat "$LOG" >&2 || true
    exit 1
  fi
  if [ -S "$SOCKDIR/socket" ] && [ -f "$JDIR/system.journal" ]; then break; fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "start-journald: not ready after ${TIMEOUT}s; log:" >&2
    cat "$LOG" >&2 || true
    exit 1
  fi
  sleep 0.02
done

{
  echo "JOURNALD_PID=$PID"
  echo "JOURNALD_SOCKET=$SOCKDIR/socket"
  echo "JOURNALD_DIRECTORY=$JDIR"
  echo "JOURNALD_NAMESPACE=$NS"
  echo "JOURNALD_BASE=$BASE"
  echo "JOURNALD_LOG=$LOG"
  echo "JOURNALD_MODE=$MODE"
} | tee "$BASE/env"
