#!/usr/bin/env bash
# Stops a test peer started by one of the start-*.sh scripts beside it (rsyslogd, systemd-journald,
# nats-server) and removes its temp dir. Only a process that is ours is killed: its comm is COMM
# and its environment carries the LOGSTREAM_PEER_BASE marker the start script set.
# Usage: stop-peer.sh COMM "PID [PID...]" [BASE]
#   COMM  the process name as /proc/PID/comm has it (cut to 15 chars): rsyslogd, systemd-journal,
#         nats-server
#   PID   the PIDs printed by the start script
#   BASE  the peer's temp dir (optional: read from the process' environment while it runs)
# Env: KEEP_PEER_DATA=1 keeps the temp dir (to start the same peer again in it, or to inspect it).
# Idempotent: a PID that is gone, or now belongs to another program, is not killed; exit 0.
set -euo pipefail

COMM="${1:-}"
PIDS="${2:-}"
BASE="${3:-}"
[ -n "$COMM" ] || { echo "usage: stop-peer.sh COMM \"PID...\" [BASE]" >&2; exit 2; }
for PID in $PIDS; do
  case "$PID" in
    *[!0-9]*) echo "usage: stop-peer.sh COMM \"PID...\" [BASE]" >&2; exit 2 ;;
  esac
done

# Running and not a zombie? The daemon was orphaned by the start script, so PID 1 (or a
# subreaper) reaps it, maybe late; a zombie has already exited.
alive() {
  local st
  st="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

wait_gone() {
  for _ in $(seq 1 200); do
    alive "$1" || return 0
    sleep 0.025
  done
  return 1
}

ours=()
for PID in $PIDS; do
  if [ -r "/proc/$PID/comm" ] && [ "$(cat "/proc/$PID/comm" 2>/dev/null)" = "$COMM" ]; then
    penv="$({ tr '\0' '\n' <"/proc/$PID/environ"; } 2>/dev/null | sed -n 's/^LOGSTREAM_PEER_BASE=//p' || true)"
    if [ -n "$penv" ]; then
      ours+=("$PID")
      [ -n "$BASE" ] || BASE="$penv"
      continue
    fi
  fi
  if [ -d "/proc/$PID" ] && alive "$PID"; then
    echo "stop-peer: PID $PID is not a $COMM started by a start-*.sh script; not killing it" >&2
  else
    echo "stop-peer: PID $PID not running"
  fi
done

for PID in "${ours[@]}"; do kill -TERM "$PID" 2>/dev/null || true; done
for PID in "${ours[@]}"; do
  if ! wait_gone "$PID"; then
    echo "stop-peer: $COMM $PID ignored SIGTERM for 5s, sending SIGKILL" >&2
    kill -KILL "$PID" 2>/dev/null || true
    wait_gone "$PID" || true
  fi
  echo "stop-peer: stopped $COMM $PID"
done

if [ -n "$BASE" ] && [ -d "$BASE" ] && [ "${KEEP_PEER_DATA:-0}" != 1 ]; then
  if [ -f "$BASE/.logstream-peer" ]; then
    # Paths outside BASE a peer wrote its state to (journald in plain mode lists them).
    if [ -f "$BASE/cleanup-paths" ]; then
      while IFS= read -r p; do
        case "$p" in
          /run/systemd/journal.*|/run/systemd/journald@*.conf.d|/var/log/journal/*.*|/run/log/journal/*.*) rm -rf -- "$p" ;;
        esac
      done <"$BASE/cleanup-paths"
    fi
    rm -rf -- "$BASE"
  else
    echo "stop-peer: $BASE has no .logstream-peer marker; not removing it" >&2
  fi
fi
