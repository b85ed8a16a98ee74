#!/usr/bin/env bash
# stop-nats-cluster.sh "PID PID PID" [DIR] — stops the nodes by PID (TERM, then KILL after 5 s)
# and removes DIR when it is one of ours; idempotent.
for pid in $1; do kill -TERM "$pid" 2>/dev/null; done
for pid in $1; do
  for _ in $(seq 50); do
    # A zombie counts as stopped (kill -0 succeeds on one).
    state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -z "$state" ] || [ "$state" = Z ] && break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
done
if [ -n "${2:-}" ] && [ -f "$2/.logstream-peer" ]; then
  case "$2" in /tmp/nats-peer.*) rm -rf "$2" ;; esac
fi
exit 0
