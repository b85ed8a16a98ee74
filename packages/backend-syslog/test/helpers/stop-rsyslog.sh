#!/usr/bin/env bash
# Stop an rsyslogd started by start-rsyslog.sh and remove its temp dir (copied from the shared
# peer recipe).
# Usage: stop-rsyslog.sh PID [BASE]
#   PID   RSYSLOG_PID printed by start-rsyslog.sh
#   BASE  RSYSLOG_BASE (optional: read from the process' environment when it is still running)
# Env: KEEP_PEER_DATA=1 keeps the temp dir (output files) for inspection.
# Idempotent: a PID that is gone (or now belongs to another program) is not killed; exit 0.
set -euo pipefail

PID="${1:-}"
BASE="${2:-}"
case "$PID" in
  '' | *[!0-9]*) echo "usage: stop-rsyslog.sh PID [BASE]" >&2; exit 2 ;;
esac

ours=0
if [ -r "/proc/$PID/comm" ] && [ "$(cat "/proc/$PID/comm" 2>/dev/null)" = "rsyslogd" ]; then
  penv="$(tr '\0' '\n' <"/proc/$PID/environ" 2>/dev/null | sed -n 's/^LOGSTREAM_PEER_BASE=//p' || true)"
  if [ -n "$penv" ]; then
    ours=1
    [ -n "$BASE" ] || BASE="$penv"
  fi
fi

# Running and not yet a zombie? (The daemon was orphaned by the start script, so its parent is
# PID 1 or a subreaper, which may reap it late; a zombie has already exited.)
alive() {
  local st
  st="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$PID/status" 2>/dev/null || true)"
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

if [ "$ours" = 1 ]; then
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 1 200); do
    alive || break
    sleep 0.025
  done
  if alive; then
    echo "stop-rsyslog: PID $PID ignored SIGTERM for 5s, sending SIGKILL" >&2
    kill -KILL "$PID" 2>/dev/null || true
  fi
  echo "stop-rsyslog: stopped $PID"
elif [ -d "/proc/$PID" ]; then
  echo "stop-rsyslog: PID $PID is not an rsyslogd started by start-rsyslog.sh; not killing it" >&2
else
  echo "stop-rsyslog: PID $PID not running"
fi

if [ -n "$BASE" ] && [ -d "$BASE" ] && [ "${KEEP_PEER_DATA:-0}" != 1 ]; then
  if [ -f "$BASE/.logstream-peer" ]; then
    rm -rf -- "$BASE"
  else
    echo "stop-rsyslog: $BASE has no .logstream-peer marker; not removing it" >&2
  fi
fi
