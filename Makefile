# Two commands do everything on a fresh machine:
#   make demo   bootstrap .venv and run the demo workload
#   make test   bootstrap .venv and run the whole test suite
# PYTHON: the newest of python3.13/3.12/3.11 on the PATH that runs (a pyenv shim for a
# version not selected exists but fails); override with `make test PYTHON=...`.
# VENV: one per Python if you keep several, e.g. `make test PYTHON=python3.12 VENV=.venv-3.12`.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in python3.13 python3.12 python3.11; do \
            $$p -c '' 2>/dev/null && { echo $$p; break; }; done)
endif
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench sim clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "need python3.13, 3.12 or 3.11 on the PATH"; exit 1; }
	@$(PYTHON) -c '' || { echo "PYTHON=$(PYTHON) does not run"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	tools/native-deps $(BIN)/python
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
	rm -rf $(VENV) .venv-3.* build *.egg-info .pytest_cache .hypothesis
