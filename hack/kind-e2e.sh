#!/usr/bin/env bash
# End to end on a kind cluster: what the emulator cannot settle, measured on real Knative,
# Argo and Kubernetes. Needs docker, kind, kubectl, make and python3 3.11+, and internet
# access (release manifests, images, sslip.io). Run from anywhere:
#
#   hack/kind-e2e.sh              # create cluster argoml-e2e, install, check, delete it
#   KEEP=1 hack/kind-e2e.sh       # keep the cluster afterwards (kind delete cluster --name argoml-e2e)
#
# It settles:
#   1. a cold admission: the validate webhook scaled to zero, then the first write waits
#      for a pod; timed against the warm webhook (min-scale 1, the manifests' default);
#   2. `.update` events from a real Argo: a sweep's Workflow runs, Argo's controller writes
#      its status, and the ApiServerSource's update events bring the sweep's status to
#      Succeeded with every trial counted;
#   3. a lost event healed by the resync: a HyperparamWorkflow created while its
#      ApiServerSource is gone (no adapter watching; a new adapter's initial list does not
#      replay) still gets its Workflow, from the periodic resync alone.
# Each prints PASS or FAIL; the exit status is the number of failures.
set -euo pipefail

CLUSTER=${CLUSTER:-argoml-e2e}
KNATIVE_VERSION=${KNATIVE_VERSION:-knative-v1.14.0}
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.14.5}
ARGO_VERSION=${ARGO_VERSION:-v3.5.8}
RESYNC_WAIT=${RESYNC_WAIT:-15m}  # the resync PingSource runs every few minutes
KEEP=${KEEP:-0}
NAMESPACE=ml-e2e

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK="$ROOT/hack/.e2e"  # inside the repository: kustomize takes relative paths only
FAILURES=0

log() { printf '\n== %s\n' "$*"; }
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  FAILURES=$((FAILURES + 1))
}

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || {
      echo "hack/kind-e2e.sh needs $tool on PATH" >&2
      exit 2
    }
  done
}

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  rm -rf "$WORK"
  if [[ "$KEEP" != 1 ]]; then
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
}

millis() { date +%s%3N; }

gone() {
  # Waits (up to $2 seconds) until no pod in namespace argoml matches label selector $1.
  local deadline=$((SECONDS + $2))
  while [[ -n "$(kubectl -n argoml get pods -l "$1" -o name 2>/dev/null)" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 5
  done
}

create_cluster() {
  log "kind cluster $CLUSTER"
  if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    kind create cluster --name "$CLUSTER" --wait 120s
  fi
  kubectl config use-context "kind-$CLUSTER" >/dev/null
}

install_platform() {
  log "cert-manager $CERT_MANAGER_VERSION"
  kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml"
  kubectl -n cert-manager wait deployment --all --for=condition=Available --timeout=5m

  log "Knative Serving and Eventing $KNATIVE_VERSION, Kourier"
  local serving="https://github.com/knative/serving/releases/download/$KNATIVE_VERSION"
  local eventing="https://github.com/knative/eventing/releases/download/$KNATIVE_VERSION"
  kubectl apply -f "$serving/serving-crds.yaml" -f "$eventing/eventing-crds.yaml"
  kubectl wait crd --all --for=condition=Established --timeout=2m
  kubectl apply -f "$serving/serving-core.yaml" -f "$eventing/eventing-core.yaml"
  kubectl apply -f "https://github.com/knative/net-kourier/releases/download/$KNATIVE_VERSION/kourier.yaml"
  kubectl -n knative-serving patch configmap config-network --type merge \
    -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
  kubectl -n knative-serving wait deployment --all --for=condition=Available --timeout=5m
  kubectl -n knative-eventing wait deployment --all --for=condition=Available --timeout=5m
  kubectl -n kourier-system wait deployment --all --for=condition=Available --timeout=5m
  "$ROOT/hack/knative-features.sh" apply
  # Eventing reads authentication-oidc at start: restart it so the sources get their tokens.
  kubectl -n knative-eventing rollout restart deployment
  kubectl -n knative-eventing rollout status deployment --timeout=5m

  log "Argo Workflows $ARGO_VERSION"
  kubectl create namespace argo --dry-run=client -o yaml | kubectl apply -f -
  kubectl apply -n argo -f "https://github.com/argoproj/argo-workflows/releases/download/$ARGO_VERSION/install.yaml"
  kubectl -n argo wait deployment workflow-controller --for=condition=Available --timeout=5m
}

install_argoml() {
  log "argo-ml images (docker, kind.local) and manifests"
  make -C "$ROOT" images REGISTRY=kind.local TAG=dev
  make -C "$ROOT" kind-load REGISTRY=kind.local TAG=dev KIND_CLUSTER="$CLUSTER"

  # The webhook's address: an sslip.io name for Kourier's ClusterIP, which the API server (a
  # host-network pod on the control-plane node, where kube-proxy programs ClusterIPs) dials.
  local ip domain
  ip=$(kubectl -n kourier-system get service kourier -o jsonpath='{.spec.clusterIP}')
  domain="argoml-validate.$ip.sslip.io"
  mkdir -p "$WORK/overlay/domain"
  cat >"$WORK/overlay/domain/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
  - target: {kind: DomainMapping}
    patch: |-
      - {op: replace, path: /metadata/name, value: $domain}
EOF
  cat >"$WORK/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../../knative/overlays/dev
components:
  - domain
  - ../../../knative/components/webhook-domain
EOF
  kubectl apply -f - <<EOF
apiVersion: networking.internal.knative.dev/v1alpha1
kind: ClusterDomainClaim
metadata:
  name: $domain
spec:
  namespace: argoml
EOF
  make -C "$ROOT" deploy OVERLAY="$WORK/overlay"
  kubectl -n argoml wait certificate --all --for=condition=Ready --timeout=5m
  kubectl -n argoml wait ksvc --all --for=condition=Ready --timeout=10m
  kubectl -n argoml wait domainmapping --all --for=condition=Ready --timeout=5m
  kubectl -n argoml wait apiserversource,pingsource --all --for=condition=Ready --timeout=5m

  kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
  kubectl label namespace "$NAMESPACE" argoml.io/dev=enabled --overwrite
  # Argo's executor reports each step's outputs as a WorkflowTaskResult.
  kubectl apply -n "$NAMESPACE" -f - <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: argo-executor}
rules:
  - apiGroups: [argoproj.io]
    resources: [workflowtaskresults]
    verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: argo-executor}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: argo-executor}
subjects: [{kind: ServiceAccount, name: default, namespace: ml-e2e}]
EOF
}

sweep() {
  # A HyperparamWorkflow of $2 quick trials, named $1.
  cat <<EOF
apiVersion: argoml.io/v1alpha1
kind: HyperparamWorkflow
metadata: {name: $1, namespace: $NAMESPACE}
spec:
  algorithm: grid
  hyperparams:
    lr: {values: $(python3 -c "import json; print(json.dumps([round(0.1 * (i + 1), 1) for i in range($2)]))")}
  entrypoint: sweep
  templates:
    - name: sweep
      steps:
        - - name: trial
            template: train
            arguments: {parameters: [{name: lr, value: "{{item.lr}}"}]}
            withParam: "{{workflow.parameters.hyperparams}}"
    - name: train
      inputs: {parameters: [{name: lr}]}
      container: {image: busybox:1.36, command: [sh, -c, "echo lr={{inputs.parameters.lr}}"]}
EOF
}

check_cold_admission() {
  log "1. a cold admission against a warm one"
  local started elapsed_cold elapsed_warm
  kubectl -n argoml patch ksvc argoml-validate --type merge \
    -p '{"spec":{"template":{"metadata":{"annotations":{"autoscaling.knative.dev/min-scale":"0","autoscaling.knative.dev/scale-down-delay":"0s"}}}}}'
  echo "waiting for validate to scale to zero (Knative's grace period and stable window: about 2 minutes)"
  sleep 20
  gone serving.knative.dev/service=argoml-validate 600 || fail "validate did not scale to zero in 10 minutes"
  started=$(millis)
  if sweep cold-check 2 | kubectl create --dry-run=server -f - >/dev/null; then
    elapsed_cold=$(($(millis) - started))
    pass "cold HyperparamWorkflow admission took ${elapsed_cold} ms (webhook timeout 20 s, revision 15 s)"
  else
    elapsed_cold=$(($(millis) - started))
    fail "cold HyperparamWorkflow admission was refused after ${elapsed_cold} ms (failurePolicy Fail)"
  fi
  kubectl -n argoml patch ksvc argoml-validate --type json \
    -p '[{"op":"replace","path":"/spec/template/metadata/annotations/autoscaling.knative.dev~1min-scale","value":"1"}]'
  kubectl -n argoml wait ksvc argoml-validate --for=condition=Ready --timeout=5m
  kubectl -n argoml wait pod -l serving.knative.dev/service=argoml-validate --for=condition=Ready --timeout=5m
  started=$(millis)
  if sweep warm-check 2 | kubectl create --dry-run=server -f - >/dev/null; then
    elapsed_warm=$(($(millis) - started))
    pass "warm HyperparamWorkflow admission took ${elapsed_warm} ms (cold: ${elapsed_cold} ms)"
  else
    fail "warm HyperparamWorkflow admission was refused"
  fi
}

check_update_events() {
  log "2. update events from Argo's controller bring a sweep to Succeeded"
  sweep e2e-updates 3 | kubectl apply -f -
  if kubectl -n "$NAMESPACE" wait hparam e2e-updates --for=jsonpath='{.status.phase}'=Succeeded --timeout=10m; then
    local counted
    counted=$(kubectl -n "$NAMESPACE" get hparam e2e-updates -o jsonpath='{.status.trialsSucceeded}')
    if [[ "$counted" == 3 ]]; then
      pass "the sweep's status followed its Workflow to Succeeded, 3 of 3 trials counted"
    else
      fail "the sweep Succeeded but counts ${counted:-no} succeeded trials, not 3"
    fi
  else
    fail "the sweep's status never reached Succeeded"
    kubectl -n "$NAMESPACE" get hparam,workflows -o wide || true
  fi
}

check_resync() {
  log "3. a lost event is healed by the resync"
  kubectl -n argoml get apiserversource argoml-hyperparamworkflows -o yaml >"$WORK/source.yaml"
  kubectl -n argoml delete apiserversource argoml-hyperparamworkflows --wait=true
  sleep 10  # the adapter stops with its source
  sweep e2e-resync 2 | kubectl apply -f -  # no adapter watches: the add event is lost
  make -C "$ROOT" deploy OVERLAY="$WORK/overlay" >/dev/null  # the source again; its initial list sends nothing
  kubectl -n argoml wait apiserversource argoml-hyperparamworkflows --for=condition=Ready --timeout=5m
  echo "waiting up to $RESYNC_WAIT for the resync PingSource to reconcile the sweep"
  if kubectl -n "$NAMESPACE" wait hparam e2e-resync --for=jsonpath='{.status.workflowName}'=e2e-resync \
    --timeout="$RESYNC_WAIT"; then
    pass "the sweep created while no adapter watched got its Workflow from the resync"
  else
    fail "the sweep created while no adapter watched was never reconciled"
  fi
}

main() {
  need docker kind kubectl make python3
  trap cleanup EXIT
  create_cluster
  install_platform
  install_argoml
  check_cold_admission
  check_update_events
  check_resync
  log "done: $FAILURES failure(s)"
  exit "$FAILURES"
}

main "$@"
