#!/usr/bin/env bash
# Start a private rsyslogd (Debian package rsyslog, 8.2302 on bookworm) as a real syslog peer for
# the @logstream/backend-syslog tests and bench. Adapted from the shared peer recipe. Own config,
# pid file, work dir and output files under a temp dir; never touches /dev/log, /etc/rsyslog.conf
# or /var/log.
#
# Listens on 127.0.0.1 only, on kernel-chosen free ports (read back, so no race with parallel
# tests):
#   UDP  imudp                                   -> RSYSLOG_UDP_PORT
#   TCP  imtcp (octet counting and LF framing)   -> RSYSLOG_TCP_PORT
#   TCP  imptcp                                  -> RSYSLOG_PTCP_PORT
#   TLS  imtcp + gtls (only with RSYSLOG_TLS=1)  -> RSYSLOG_TLS_PORT, CA in RSYSLOG_TLS_CA
#   unix datagram socket imuxsock (like /dev/log) -> RSYSLOG_SOCKET
# Every message is written to RSYSLOG_JSON (%jsonmesg%, one JSON object a line: assert on this),
# RSYSLOG_OUTPUT (RFC 5424 lines) and RSYSLOG_RAW (%rawmsg%). Rate limits are off; control
# characters are kept (no #012 escaping).
#
# Env:  LOGSTREAM_PEER_TMP      parent dir for the temp dir (default: ${TMPDIR:-/tmp})
#       RSYSLOG_START_TIMEOUT   seconds to wait for readiness (default 15)
#       RSYSLOG_NO_INSTALL=1    fail instead of apt-get installing rsyslog when absent
#       RSYSLOG_TLS=1           also listen with TLS (installs rsyslog-gnutls when missing; the
#                               CA and server certificate are made with openssl in the temp dir)
#       RSYSLOG_REUSE_BASE=DIR  restart in an existing temp dir (config, certificates and output
#                               files kept; new messages are appended), on the ports given by
#       RSYSLOG_FIXED_UDP_PORT / RSYSLOG_FIXED_TCP_PORT / RSYSLOG_FIXED_PTCP_PORT /
#       RSYSLOG_FIXED_TLS_PORT  instead of port 0 (used to restart a peer at the same address)
# Prints KEY=VALUE lines (also saved to $RSYSLOG_BASE/env). Stop with stop-peer.sh rsyslogd PID BASE.
set -euo pipefail

install_pkg() {
  # Keep the package's init script from starting a system-wide rsyslogd (which would take over
  # /dev/log): a policy-rc.d that forbids service starts, only for this install.
  if [ "$(id -u)" != 0 ]; then echo "start-rsyslog: $1 missing and not root (cannot apt-get install)" >&2; exit 1; fi
  echo "start-rsyslog: installing $1 with apt-get" >&2
  local made_policy=0 rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  {
    if ! apt-cache show "$1" >/dev/null 2>&1; then apt-get update -qq; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1"
  } >&2 || rc=$?
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "$rc" = 0 ] || { echo "start-rsyslog: apt-get install $1 failed ($rc)" >&2; exit 1; }
}

RSYSLOGD="$(command -v rsyslogd || true)"
[ -n "$RSYSLOGD" ] || { [ -x /usr/sbin/rsyslogd ] && RSYSLOGD=/usr/sbin/rsyslogd; } || true
if [ -z "$RSYSLOGD" ]; then
  if [ "${RSYSLOG_NO_INSTALL:-0}" = 1 ]; then echo "start-rsyslog: rsyslogd not installed" >&2; exit 1; fi
  install_pkg rsyslog
  RSYSLOGD=/usr/sbin/rsyslogd
fi
TLS="${RSYSLOG_TLS:-0}"
if [ "$TLS" = 1 ] && ! ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1; then
  if [ "${RSYSLOG_NO_INSTALL:-0}" = 1 ]; then echo "start-rsyslog: rsyslog-gnutls not installed" >&2; exit 1; fi
  install_pkg rsyslog-gnutls
fi

REUSE="${RSYSLOG_REUSE_BASE:-}"
if [ -n "$REUSE" ]; then
  [ -f "$REUSE/.logstream-peer" ] || { echo "start-rsyslog: $REUSE is not a peer dir" >&2; exit 1; }
  BASE="$REUSE"
else
  PARENT="${LOGSTREAM_PEER_TMP:-${TMPDIR:-/tmp}}"
  BASE="$(mktemp -d "$PARENT/logstream-rsyslog.XXXXXX")"
  chmod 755 "$BASE"
  touch "$BASE/.logstream-peer"
fi
PID=""
cleanup_on_error() {
  rc=$?
  if [ "$rc" != 0 ]; then
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
    if [ -z "$REUSE" ] && [ "${KEEP_PEER_DATA:-0}" != 1 ]; then rm -rf -- "$BASE"; fi
  fi
}
trap cleanup_on_error EXIT
mkdir -p "$BASE/work"
CONF="$BASE/rsyslog.conf"
PIDFILE="$BASE/rsyslogd.pid"
SOCK="$BASE/log.sock"
OUT="$BASE/messages.log"
JSON="$BASE/messages.jsonl"
RAW="$BASE/raw.log"
INTERNAL="$BASE/internal.log"
LOG="$BASE/rsyslogd.stderr"
TCP_PORTFILE="$BASE/imtcp.port"
PTCP_PORTFILE="$BASE/imptcp.port"
TLS_PORTFILE="$BASE/imtcp-tls.port"
rm -f "$TCP_PORTFILE" "$PTCP_PORTFILE" "$TLS_PORTFILE" "$SOCK"
touch "$OUT" "$JSON" "$RAW"

TLS_CA="$BASE/tls/ca.pem"
if [ "$TLS" = 1 ] && [ ! -s "$BASE/tls/server.pem" ]; then
  mkdir -p "$BASE/tls"
  (
    cd "$BASE/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=LogStream test CA" \
      -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.pem
    chmod 644 ./*.key
  ) >"$BASE/tls/openssl.log" 2>&1 || { echo "start-rsyslog: openssl failed:" >&2; cat "$BASE/tls/openssl.log" >&2; exit 1; }
fi

UDP_FIXED="${RSYSLOG_FIXED_UDP_PORT:-0}"
TCP_FIXED="${RSYSLOG_FIXED_TCP_PORT:-0}"
PTCP_FIXED="${RSYSLOG_FIXED_PTCP_PORT:-0}"
TLS_FIXED="${RSYSLOG_FIXED_TLS_PORT:-0}"
TLS_INPUT=""
if [ "$TLS" = 1 ]; then
  TLS_INPUT="input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$TLS_FIXED\" listenPortFileName=\"$TLS_PORTFILE\"
      ruleset=\"received\" RateLimit.Interval=\"0\"
      StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\"
      StreamDriver.CAFile=\"$BASE/tls/ca.pem\" StreamDriver.CertFile=\"$BASE/tls/server.pem\"
      StreamDriver.KeyFile=\"$BASE/tls/server.key\")"
fi

cat >"$CONF" <<CONF
# Generated by start-rsyslog.sh (LogStream backend-syslog test peer)
global(
  workDirectory="$BASE/work"
  maxMessageSize="1m"
  net.enableDNS="off"
  processInternalMessages="on"
  parser.escapeControlCharactersOnReceive="off"
)
module(load="imuxsock" SysSock.Use="off")
module(load="imudp")
# MaxFrameSize: largest accepted octet count (default 200000).
module(load="imtcp" MaxSessions="1000" MaxFrameSize="1048576")
module(load="imptcp")

template(name="LogStreamJson" type="string" string="%jsonmesg%\n")
template(name="LogStreamRaw" type="string" string="%rawmsg%\n")

ruleset(name="received") {
  action(type="omfile" file="$OUT" template="RSYSLOG_SyslogProtocol23Format" flushOnTXEnd="on")
  action(type="omfile" file="$JSON" template="LogStreamJson" flushOnTXEnd="on")
  action(type="omfile" file="$RAW" template="LogStreamRaw" flushOnTXEnd="on")
}

input(type="imudp" address="127.0.0.1" port="$UDP_FIXED" ruleset="received"
      RateLimit.Interval="0" RcvBufSize="8m")
input(type="imtcp" address="127.0.0.1" port="$TCP_FIXED" listenPortFileName="$TCP_PORTFILE"
      ruleset="received" SupportOctetCountedFraming="on" RateLimit.Interval="0")
input(type="imptcp" address="127.0.0.1" port="$PTCP_FIXED" listenPortFileName="$PTCP_PORTFILE"
      ruleset="received" SupportOctetCountedFraming="on" MaxFrameSize="1048576"
      RateLimit.Interval="0")
$TLS_INPUT
input(type="imuxsock" Socket="$SOCK" CreatePath="on" ruleset="received"
      RateLimit.Interval="0" IgnoreTimestamp="off" ParseHostname="on"
      UseSpecialParser="off")

*.* action(type="omfile" file="$INTERNAL")
CONF

"$RSYSLOGD" -N1 -f "$CONF" >"$BASE/config-check.log" 2>&1 || {
  echo "start-rsyslog: config check failed:" >&2; cat "$BASE/config-check.log" >&2; exit 1; }

START_NS=$(date +%s%N)
# -n: foreground, so $! is rsyslogd's PID; setsid + stdio to files so `$(start-rsyslog.sh)`
# returns. LOGSTREAM_PEER_BASE marks the process as ours for stop-peer.sh.
LOGSTREAM_PEER_BASE="$BASE" setsid "$RSYSLOGD" -n -f "$CONF" -i "$PIDFILE" </dev/null >"$LOG" 2>&1 &
PID=$!

socket_inodes() {
  local inodes=" " fd link
  for fd in "/proc/$1/fd/"*; do
    link="$(readlink "$fd" 2>/dev/null || true)"
    case "$link" in socket:\[*\]) link="${link#socket:[}"; inodes="$inodes${link%]} " ;; esac
  done
  printf '%s' "$inodes"
}

udp_port() {
  # imudp has no listenPortFileName: find the UDP socket bound to 127.0.0.1 among our socket
  # inodes in /proc/net/udp.
  local inodes local_addr inode
  inodes="$(socket_inodes "$1")"
  while read -r _ local_addr _ _ _ _ _ _ _ inode _; do
    case "$local_addr" in 0100007F:*) ;; *) continue ;; esac
    case "$inodes" in *" $inode "*) printf '%d\n' "0x${local_addr#*:}"; return 0 ;; esac
  done </proc/net/udp
}

# listenPortFileName is written only for port 0: on a restart at fixed ports, write the port
# file once our PID holds a socket listening (state 0A) on 127.0.0.1:PORT.
mark_listening() {
  local pid="$1" port="$2" file="$3" inodes want local_addr st inode
  [ "$port" != 0 ] && [ ! -s "$file" ] || return 0
  inodes="$(socket_inodes "$pid")"
  want="$(printf '0100007F:%04X' "$port")"
  while read -r _ local_addr _ st _ _ _ _ _ inode _; do
    [ "$local_addr" = "$want" ] && [ "$st" = 0A ] || continue
    case "$inodes" in *" $inode "*) echo "$port" >"$file"; return 0 ;; esac
  done </proc/net/tcp
}

TIMEOUT="${RSYSLOG_START_TIMEOUT:-15}"
deadline=$(( $(date +%s) + TIMEOUT ))
UDP_PORT=""
while :; do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "start-rsyslog: rsyslogd exited early:" >&2
    cat "$LOG" "$INTERNAL" >&2 2>/dev/null || true
    exit 1
  fi
  [ -n "$UDP_PORT" ] || UDP_PORT="$(udp_port "$PID")"
  mark_listening "$PID" "$TCP_FIXED" "$TCP_PORTFILE"
  mark_listening "$PID" "$PTCP_FIXED" "$PTCP_PORTFILE"
  [ "$TLS" != 1 ] || mark_listening "$PID" "$TLS_FIXED" "$TLS_PORTFILE"
  if [ -n "$UDP_PORT" ] && [ -s "$TCP_PORTFILE" ] && [ -s "$PTCP_PORTFILE" ] && [ -S "$SOCK" ] \
    && { [ "$TLS" != 1 ] || [ -s "$TLS_PORTFILE" ]; }; then
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "start-rsyslog: not ready after ${TIMEOUT}s:" >&2
    cat "$LOG" "$INTERNAL" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.02
done
ELAPSED_MS=$(( ($(date +%s%N) - START_NS) / 1000000 ))

{
  echo "RSYSLOG_PID=$PID"
  echo "RSYSLOG_HOST=127.0.0.1"
  echo "RSYSLOG_UDP_PORT=$UDP_PORT"
  echo "RSYSLOG_TCP_PORT=$(tr -d '[:space:]' <"$TCP_PORTFILE")"
  echo "RSYSLOG_PTCP_PORT=$(tr -d '[:space:]' <"$PTCP_PORTFILE")"
  if [ "$TLS" = 1 ]; then
    echo "RSYSLOG_TLS_PORT=$(tr -d '[:space:]' <"$TLS_PORTFILE")"
    echo "RSYSLOG_TLS_CA=$TLS_CA"
  fi
  echo "RSYSLOG_SOCKET=$SOCK"
  echo "RSYSLOG_OUTPUT=$OUT"
  echo "RSYSLOG_JSON=$JSON"
  echo "RSYSLOG_RAW=$RAW"
  echo "RSYSLOG_INTERNAL=$INTERNAL"
  echo "RSYSLOG_CONF=$CONF"
  echo "RSYSLOG_BASE=$BASE"
  echo "RSYSLOG_STARTUP_MS=$ELAPSED_MS"
} | tee "$BASE/env"
