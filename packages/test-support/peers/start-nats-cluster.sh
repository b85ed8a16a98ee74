#!/usr/bin/env bash
# start-nats-cluster.sh [NODES] — a private NATS JetStream cluster on 127.0.0.1 for the tests.
# Installs Debian's nats-server when it is missing. Each node gets its own config, store_dir and
# kernel-chosen ports; all are routed to each other. Prints KEY=VALUE lines: NATS_DIR, NATS_URLS
# (comma-separated), NATS_PIDS (space-separated), NATS_PORTS, NATS_BIN, NATS_CONF_<i>.
# Extra config for every node can be passed in NATS_EXTRA_CONF (e.g. an accounts block).
# Stop with: stop-peer.sh nats-server "$NATS_PIDS" "$NATS_DIR" (LOGSTREAM_PEER_BASE in each node's
# environment marks it as ours).
set -euo pipefail
n=${1:-3}
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nats-server) >/dev/null 2>&1 \
    || { echo "cannot install nats-server (apt-get install nats-server)" >&2; exit 1; }
fi
bin=$(command -v nats-server || echo /usr/sbin/nats-server)
dir=$(mktemp -d /tmp/nats-peer.XXXXXX)
touch "$dir/.logstream-peer"
ports=$(python3 -c "
import socket
ss=[socket.socket() for _ in range(2*$n)]
[s.bind(('127.0.0.1',0)) for s in ss]
print(' '.join(str(s.getsockname()[1]) for s in ss))
[s.close() for s in ss]")
read -r -a p <<<"$ports"
routes=""
for i in $(seq 0 $((n - 1))); do routes+="nats-route://127.0.0.1:${p[$((n + i))]}, "; done
routes=${routes%, }
urls="" pids=""
for i in $(seq 0 $((n - 1))); do
  mkdir -p "$dir/n$i/js"
  cat >"$dir/n$i/nats.conf" <<CONF
server_name: n$i
host: 127.0.0.1
port: ${p[$i]}
jetstream { store_dir: "$dir/n$i/js" }
cluster { name: lscluster, host: 127.0.0.1, port: ${p[$((n + i))]}, routes: [ $routes ] }
${NATS_EXTRA_CONF:-}
CONF
  LOGSTREAM_PEER_BASE="$dir" setsid "$bin" -c "$dir/n$i/nats.conf" >>"$dir/n$i/server.log" 2>&1 </dev/null &
  pids+="$! "
  urls+="nats://127.0.0.1:${p[$i]},"
  echo "NATS_CONF_$i=$dir/n$i/nats.conf"
done
for i in $(seq 0 $((n - 1))); do
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/${p[$i]}) 2>/dev/null && break; sleep 0.1; done
done
# Streams can be created only once JetStream has a meta leader: wait for its log line.
for _ in $(seq 300); do
  grep -qs "new metadata leader\|Self is new JetStream cluster metadata leader\|JetStream cluster new metadata leader" "$dir"/n*/server.log && break
  sleep 0.1
done
echo "NATS_DIR=$dir"
echo "NATS_BIN=$bin"
echo "NATS_URLS=${urls%,}"
echo "NATS_PIDS=${pids% }"
echo "NATS_PORTS=${p[*]:0:$n}"
