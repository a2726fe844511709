#!/usr/bin/env bash
# The chassis floor: unary RPC throughput and latency of one egress process on
# the embedded store, over gRPC (h2c, h2load) and Connect over HTTP/1.1
# (h2load --h1). Calls grpc.health.v1.Health/Check (touches no store) and
# EgressService/GetLastSequence (one embedded-store read).
# Usage: scripts/bench-chassis.sh [seconds per run, default 5]
# Environment: LOG_LEVEL of the service (default warn: no per-RPC log line).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "Usage: $(basename "$0") [SECONDS]   (per run, default 5; needs h2load from Debian's nghttp2-client)"
  exit 0
fi
seconds=${1:-5}
work=$(mktemp -d)
port=$(node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
url="http://127.0.0.1:$port"

STORAGE=embedded MTS_DATA_DIR="$work/data" SERVER_HOST=127.0.0.1 SERVER_PORT="$port" LOG_LEVEL="${LOG_LEVEL:-warn}" \
  node --import tsx services/egress/main.ts >"$work/service.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  curl -sf "$url/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "$url/readyz" >/dev/null || { echo "service did not become ready:" >&2; cat "$work/service.log" >&2; exit 1; }

# gRPC bodies: a 5-byte frame header (uncompressed, big-endian length) and the protobuf.
printf '\x00\x00\x00\x00\x00' >"$work/check.grpc"                      # HealthCheckRequest{}
printf '\x00\x00\x00\x00\x07\x0a\x05bench' >"$work/last.grpc"          # GetLastSequenceRequest{subject:"bench"}
printf '{}' >"$work/check.json"
printf '{"subject":"bench"}' >"$work/last.json"

run() {
  local label=$1
  shift
  echo "== $label"
  h2load --warm-up-time=1 -D "$seconds" "$@" | grep -E '^(finished in|requests:|status codes:|time for request:)' | sed 's/^/   /'
}

grpc=(-c 4 -m 50 -H 'content-type: application/grpc' -H 'te: trailers')
connect=(--h1 -c 4 -m 1 -H 'content-type: application/json')
run "gRPC h2c  Health/Check      (-c 4 -m 50)" "${grpc[@]}" -d "$work/check.grpc" "$url/grpc.health.v1.Health/Check"
run "gRPC h2c  GetLastSequence   (-c 4 -m 50)" "${grpc[@]}" -d "$work/last.grpc" "$url/minitoolstream.EgressService/GetLastSequence"
run "Connect HTTP/1.1 Health/Check    (-c 4)" "${connect[@]}" -d "$work/check.json" "$url/grpc.health.v1.Health/Check"
run "Connect HTTP/1.1 GetLastSequence (-c 4)" "${connect[@]}" -d "$work/last.json" "$url/minitoolstream.EgressService/GetLastSequence"

echo "== RPCs counted by the service (every call should be OK)"
curl -sf "$url/metrics" | grep -E '^grpc_server_handled_total' | sed 's/^/   /'
