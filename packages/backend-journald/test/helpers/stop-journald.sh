#!/usr/bin/env bash
# Stops a journald started by start-journald.sh and removes its temp dir. Adapted from a recipe
# that starts journald in a private namespace.
# Usage: stop-journald.sh PID [BASE]
#   PID   JOURNALD_PID printed by start-journald.sh
#   BASE  JOURNALD_BASE (optional: read from the process' environment while it runs)
# Env: KEEP_PEER_DATA=1 keeps the temp dir (to start the same journald again with --base, or to
#      inspect its journal and log).
# Idempotent: a PID that is gone, or now belongs to another program, is not killed; exit 0.
set -euo pipefail

PID="${1:-}"
BASE="${2:-}"
case "$PID" in
  '' | *[!0-9]*) echo "usage: stop-journald.sh PID [BASE]" >&2; exit 2 ;;
esac

# Ours? (comm is cut to 15 chars: "systemd-journal"; the environment carries our marker.)
ours=0
if [ -r "/proc/$PID/comm" ] && [ "$(cat "/proc/$PID/comm" 2>/dev/null)" = "systemd-journal" ]; then
  penv="$({ tr '\0' '\n' <"/proc/$PID/environ"; } 2>/dev/null | sed -n 's/^LOGSTREAM_PEER_BASE=//p' || true)"
  if [ -n "$penv" ]; then
    ours=1
    [ -n "$BASE" ] || BASE="$penv"
  fi
fi

# Running and not a zombie? The daemon was orphaned by the start script, so PID 1 reaps it, maybe
# late; a zombie has already exited.
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
    echo "stop-journald: PID $PID ignored SIGTERM for 5s, sending SIGKILL" >&2
    kill -KILL "$PID" 2>/dev/null || true
    for _ in $(seq 1 200); do
      alive || break
      sleep 0.025
    done
  fi
  echo "stop-journald: stopped $PID"
elif [ -d "/proc/$PID" ] && alive; then
  echo "stop-journald: PID $PID is not a journald started by start-journald.sh; not killing it" >&2
else
  echo "stop-journald: PID $PID not running"
fi

if [ -n "$BASE" ] && [ -d "$BASE" ] && [ "${KEEP_PEER_DATA:-0}" != 1 ]; then
  if [ -f "$BASE/.logstream-peer" ]; then
    if [ -f "$BASE/cleanup-paths" ]; then
      while IFS= read -r p; do
        case "$p" in
          /run/systemd/journal.*|/run/systemd/journald@*.conf.d|/var/log/journal/*.*|/run/log/journal/*.*) rm -rf -- "$p" ;;
        esac
      done <"$BASE/cleanup-paths"
    fi
    rm -rf -- "$BASE"
  else
    echo "stop-journald: $BASE has no .logstream-peer marker; not removing it" >&2
  fi
fi
