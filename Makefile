# Every target installs what it needs: a fresh clone with Python 3.11+ and make is enough.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
REGISTRY ?= ghcr.io/argoml
TAG      ?= dev
FUNCTIONS := hyperparam validate tensorboard gc

.PHONY: install demo run test fuzz bench lint vendor images deploy clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("argo-ml needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python -m argoml.dev.demo

run: install
	$(BIN)/python -m argoml.dev.stack

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
	@command -v docker >/dev/null || { echo "make images needs docker (or use the func route in README)"; exit 1; }
	for f in $(FUNCTIONS); do docker build -t $(REGISTRY)/argoml-$$f:$(TAG) functions/$$f || exit 1; done

deploy:
	@command -v kubectl >/dev/null || { echo "make deploy needs kubectl"; exit 1; }
	kubectl apply -k knative/

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache out
