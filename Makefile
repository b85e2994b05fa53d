# Two commands do everything on a fresh machine:
#   make demo   bootstrap .venv and run the demo workload
#   make test   bootstrap .venv and run the whole test suite
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench sim clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/attrchain demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(BIN)/attrchain bench apply

sim: $(STAMP)
	$(BIN)/attrchain sim --seeds 10000

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
