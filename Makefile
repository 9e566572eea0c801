# Every target installs what it needs: a fresh clone with Python 3.11+ and make is enough.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
REGISTRY ?= ghcr.io/argoml
TAG      ?= dev
FUNCTIONS := hyperparam validate tensorboard gc
OVERLAY  ?= knative
KIND_CLUSTER ?= argoml

.PHONY: install demo run test fuzz bench lint vendor images kind-load knative-features check-knative deploy clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("argo-ml needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python -m argoml.dev.demo

# make run ARGO_PLAYER=on: a stand-in for Argo's controller runs the sweeps' Workflows (made-up metrics).
ARGO_PLAYER ?= off
run: install
	ARGO_PLAYER=$(ARGO_PLAYER) $(BIN)/python -m argoml.dev.stack

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

fuzz: install
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -m fuzz $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/python -m mypy

vendor:
	$(PYTHON) -m tools.vendoring .

images: vendor
	@command -v docker >/dev/null || { echo "make images needs docker (the one supported build: docs/deploy.md)"; exit 1; }
	for f in $(FUNCTIONS); do docker build -t $(REGISTRY)/argoml-$$f:$(TAG) functions/$$f || exit 1; done

# Put the images `make images REGISTRY=kind.local` built on the nodes of kind cluster $(KIND_CLUSTER).
kind-load:
	@command -v kind >/dev/null || { echo "make kind-load needs kind"; exit 1; }
	for f in $(FUNCTIONS); do kind load docker-image --name $(KIND_CLUSTER) $(REGISTRY)/argoml-$$f:$(TAG) || exit 1; done

# Knative's feature flags argo-ml needs (cluster admin, once), and a check that they are on.
knative-features:
	hack/knative-features.sh apply

check-knative:
	hack/knative-features.sh check

# Refuses while the webhook's or the tensorboard function's address is still a placeholder
# (docs/deploy.md, step 3): every DomainMapping's name must be a real one.
deploy:
	@command -v kubectl >/dev/null || { echo "make deploy needs kubectl"; exit 1; }
	@kubectl kustomize $(OVERLAY) > /dev/null || exit 1
	@hosts=$$(kubectl kustomize $(OVERLAY) | awk '/^kind: / {m = ($$0 == "kind: DomainMapping")} m && /^  name: / {print $$2; m=0}'); \
	for host in $${hosts:-""}; do case "$$host" in \
	  ""|*example.com|*example.org|*example.net|*192.0.2.*|*198.51.100.*|*203.0.113.*) \
	    echo "make deploy: the address '$$host' in $(OVERLAY) is a placeholder."; \
	    echo "Set it in an overlay (a DomainMapping's name: a DNS name that resolves to the Knative"; \
	    echo "ingress; docs/deploy.md, step 3), then: make deploy OVERLAY=<your overlay>"; \
	    exit 1;; \
	esac; done
	kubectl apply -k $(OVERLAY)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache out
