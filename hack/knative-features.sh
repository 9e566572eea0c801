#!/usr/bin/env bash
# The Knative feature flags argo-ml needs, set and checked in Knative's own ConfigMaps.
#
#   hack/knative-features.sh apply   # cluster admin, once (and after installing Knative anew)
#   hack/knative-features.sh check   # says which needed flag is off; exit status 1 if any
#   hack/knative-features.sh list    # the flags, "<namespace> <flag>" a line
#
# `kubectl patch` (a JSON merge patch of the data keys only), not `kubectl apply` of a
# ConfigMap: an apply would record these keys as ours in the last-applied annotation and
# fight Knative's own install (serving-core.yaml), whose next `kubectl apply` (an upgrade)
# would then delete them. A patch leaves Knative's keys, labels and annotation alone, and an
# upgrade of Knative leaves the patched keys alone. With the Knative Operator, which reverts
# direct edits, set the same keys in its resources instead (the script says so and stops):
#   KnativeServing  spec.config.features: {kubernetes.podspec-init-containers: enabled, ...}
#   KnativeEventing spec.config.features: {authentication-oidc: enabled}
set -euo pipefail

KUBECTL=${KUBECTL:-kubectl}

# namespace|flag|what needs it
FLAGS=(
  "knative-serving|kubernetes.podspec-init-containers|TensorBoard instances fetch their logs in an init container"
  "knative-serving|kubernetes.podspec-volumes-emptydir|TensorBoard instances read their logs from an emptyDir"
  "knative-eventing|authentication-oidc|the PingSources authenticate to gc (EVENT_AUDIENCE); without it every gc run is refused"
)

usage() {
  echo "usage: $0 apply|check|list" >&2
  exit 2
}

operator_managed() {
  # Prints the Operator resources that own Knative's configuration, if any.
  local kind
  for kind in knativeservings.operator.knative.dev knativeeventings.operator.knative.dev; do
    "$KUBECTL" get "$kind" --all-namespaces -o name 2>/dev/null || true
  done
}

apply() {
  local managed
  managed=$(operator_managed)
  if [[ -n "$managed" ]]; then
    echo "Knative is installed by the Operator ($managed): set the flags in its resources instead" >&2
    echo "(spec.config.features of KnativeServing and KnativeEventing; see this script's header)." >&2
    exit 1
  fi
  local namespace data entry flag
  for namespace in knative-serving knative-eventing; do
    data=""
    for entry in "${FLAGS[@]}"; do
      IFS='|' read -r ns flag _ <<<"$entry"
      [[ "$ns" == "$namespace" ]] || continue
      data+="${data:+,}\"$flag\":\"enabled\""
    done
    "$KUBECTL" -n "$namespace" patch configmap config-features --type merge -p "{\"data\":{$data}}"
  done
  check
}

check() {
  local off=0 entry ns flag why value
  for entry in "${FLAGS[@]}"; do
    IFS='|' read -r ns flag why <<<"$entry"
    value=$("$KUBECTL" -n "$ns" get configmap config-features -o "jsonpath={.data.${flag//./\\.}}" 2>/dev/null) || value="(no ConfigMap)"
    if [[ "$value" == "enabled" ]]; then
      echo "ok   $ns $flag: enabled"
    else
      echo "OFF  $ns $flag: ${value:-unset} ($why)"
      off=1
    fi
  done
  if ((off)); then
    echo "Some flags argo-ml needs are off: run '$0 apply' (or set them in the Operator's resources)." >&2
  fi
  return "$off"
}

list() {
  local entry ns flag
  for entry in "${FLAGS[@]}"; do
    IFS='|' read -r ns flag _ <<<"$entry"
    echo "$ns $flag"
  done
}

case "${1:-}" in
  apply) apply ;;
  check) check ;;
  list) list ;;
  *) usage ;;
esac
