#!/usr/bin/env bash
# Runs the whole system locally for development: Tarantool with services/tarantool/init.lua,
# an S3-protocol server (s3rver) and both services with STORAGE=tarantool. Ctrl-C stops all.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--help]

Starts, on 127.0.0.1, for development:
  Tarantool  (services/tarantool/init.lua)  port \${TARANTOOL_PORT:-3301}
  s3rver     (scripts/s3-server.ts)          port \${S3_PORT:-9000}
  ingress                                    port \${INGRESS_PORT:-50051}
  egress                                     port \${EGRESS_PORT:-50052}
Data, logs (tarantool.log, s3.log, ingress.log, egress.log) and service pids (ingress.pid, egress.pid) go to \${LOCAL_STACK_DIR:-data/local-stack}.
TARANTOOL_PASSWORD (default: local-dev) and LOG_LEVEL (default: info) are passed on.
Ctrl-C (or SIGTERM) stops everything. Requires tarantool on PATH and npm ci done.
USAGE
}

info() { printf 'local-stack: %s\n' "$*"; }
fail() {
  printf 'local-stack: %s\n' "$*" >&2
  exit 1
}

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  usage
  exit 0
fi
[ $# -eq 0 ] || {
  usage >&2
  exit 2
}

command -v tarantool >/dev/null 2>&1 ||
  fail "tarantool is not on PATH; install it (Debian/Ubuntu: sudo apt-get install -y tarantool) and try again"
[ -x "${root}/node_modules/.bin/tsx" ] || fail "dependencies are missing; run npm ci in ${root} first"

host=127.0.0.1
tarantool_port="${TARANTOOL_PORT:-3301}"
s3_port="${S3_PORT:-9000}"
ingress_port="${INGRESS_PORT:-50051}"
egress_port="${EGRESS_PORT:-50052}"
data_dir="${LOCAL_STACK_DIR:-${root}/data/local-stack}"
password="${TARANTOOL_PASSWORD:-local-dev}"

mkdir -p "${data_dir}/tarantool" "${data_dir}/s3"
data_dir="$(cd "${data_dir}" && pwd)"

pids=()
# shellcheck disable=SC2317 # invoked from the traps below
stop_all() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    info "stopping"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  info "stopped"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

# Waits until `check` succeeds while the process we started is alive, or fails naming the log to read.
wait_for() {
  local what="$1" log="$2" pid="$3"
  shift 3
  local deadline=$((SECONDS + 30))
  until "$@" >/dev/null 2>&1; do
    kill -0 "${pid}" 2>/dev/null || fail "${what} exited; see ${log}"
    [ "${SECONDS}" -lt "${deadline}" ] || fail "${what} did not start within 30 s; see ${log}"
    sleep 0.2
  done
  kill -0 "${pid}" 2>/dev/null || fail "${what} exited; see ${log}"
}

# Ready means the process we started listens on the port and it answers: another program
# answering on a port our service could not bind must not count. Without ss (iproute2)
# only the answer and the process being alive are checked.
# shellcheck disable=SC2317 # invoked through wait_for
service_ready() {
  local pid="$1" port="$2"
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :${port}" | grep -q "pid=${pid}," || return 1
  fi
  curl -fs "http://${host}:${port}/readyz"
}

info "starting tarantool on ${host}:${tarantool_port}"
(
  cd "${data_dir}/tarantool"
  TARANTOOL_LISTEN="${host}:${tarantool_port}" TARANTOOL_WORK_DIR="${data_dir}/tarantool" \
    TARANTOOL_PASSWORD="${password}" exec tarantool "${root}/services/tarantool/init.lua"
) >"${data_dir}/tarantool.log" 2>&1 &
pids+=($!)
wait_for tarantool "${data_dir}/tarantool.log" "${pids[-1]}" grep -q 'mts: ready' "${data_dir}/tarantool.log"

info "starting s3rver on ${host}:${s3_port}"
node --import tsx "${root}/scripts/s3-server.ts" --host "${host}" --port "${s3_port}" --dir "${data_dir}/s3" \
  >"${data_dir}/s3.log" 2>&1 &
pids+=($!)
wait_for s3rver "${data_dir}/s3.log" "${pids[-1]}" grep -q 'listening' "${data_dir}/s3.log"

start_service() {
  local name="$1" port="$2"
  info "starting ${name} on ${host}:${port}"
  (
    cd "${root}"
    STORAGE=tarantool SERVER_HOST="${host}" SERVER_PORT="${port}" \
      TARANTOOL_ADDRESS="${host}:${tarantool_port}" TARANTOOL_PASSWORD="${password}" \
      MINIO_ENDPOINT="${host}:${s3_port}" MINIO_ACCESS_KEY_ID=S3RVER MINIO_SECRET_ACCESS_KEY=S3RVER \
      MINIO_PART_SIZE_BYTES=$((64 * 1024 * 1024)) \
      LOG_LEVEL="${LOG_LEVEL:-info}" exec node --import tsx "services/${name}/main.ts"
  ) >"${data_dir}/${name}.log" 2>&1 &
  pids+=($!)
  echo "$!" >"${data_dir}/${name}.pid"
}
start_service ingress "${ingress_port}"
start_service egress "${egress_port}"
wait_for ingress "${data_dir}/ingress.log" "${pids[2]}" service_ready "${pids[2]}" "${ingress_port}"
wait_for egress "${data_dir}/egress.log" "${pids[3]}" service_ready "${pids[3]}" "${egress_port}"
for pid in "${pids[@]}"; do
  kill -0 "${pid}" 2>/dev/null || fail "a process it started (pid ${pid}) exited; see the logs in ${data_dir}"
done

cat <<READY
local-stack: ready (Ctrl-C stops everything)
  ingress    http://${host}:${ingress_port}   (gRPC h2c, Connect, gRPC-Web, /readyz, /metrics)
  egress     http://${host}:${egress_port}
  tarantool  ${host}:${tarantool_port}  user minitoolstream_connector, password ${password}
  s3         http://${host}:${s3_port}  bucket minitoolstream, any credentials
  data+logs  ${data_dir}
try: npx buf curl --http2-prior-knowledge --protocol grpc --data '{"subject":"demo","data":"aGk="}' \\
       http://${host}:${ingress_port}/minitoolstream.IngressService/Publish
READY

# Runs until Ctrl-C, or until one part exits on its own (then the rest is stopped too).
set +e
wait -n "${pids[@]}"
status=$?
set -e
info "a process exited with status ${status}; see the logs in ${data_dir}"
exit 1
