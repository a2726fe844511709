#!/usr/bin/env bash
# Applies the manifests (kubectl apply -k), waits for the rollout and prints the status.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [ingress|egress|all]

Applies manifests/ to the namespace ${NAMESPACE}: the shared objects (namespace, config,
secret, Tarantool, MinIO, network policies) and the chosen service (default all), then waits
for every rollout and prints pods, services and autoscalers. Build the images first with
scripts/build-image.sh.
USAGE
}

main() {
  parse_service_arg "$@"
  local target="${TARGET}"

  require_cluster
  local selector=()
  case "${target}" in
    ingress) selector=(--selector "app.kubernetes.io/component!=egress") ;;
    egress) selector=(--selector "app.kubernetes.io/component!=ingress") ;;
  esac
  info "applying ${MANIFESTS_DIR} (${target})"
  kubectl apply --kustomize "${MANIFESTS_DIR}" "${selector[@]}"

  info "waiting for the stores"
  kubectl rollout status statefulset/tarantool --namespace "${NAMESPACE}" --timeout=5m
  kubectl rollout status statefulset/minio --namespace "${NAMESPACE}" --timeout=5m
  local service
  for service in $(expand_services "${target}"); do
    info "waiting for minitoolstream-${service}"
    kubectl rollout status "deployment/minitoolstream-${service}" --namespace "${NAMESPACE}" --timeout=5m
  done

  kubectl get pods,services,hpa --namespace "${NAMESPACE}" --selector app.kubernetes.io/part-of=minitoolstream
}

main "$@"
