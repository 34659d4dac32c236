# setkey-tui — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit kernel-suite bench screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "setkey-tui needs Python >= 3.11 (found $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "python3 -m venv failed: on Debian/Ubuntu run 'apt-get install python3-venv'"; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

## run: create .venv, install the project, start the TUI (simulated kernel where there is no PF_KEY)
run: $(STAMP)
	$(BIN)/setkey-tui

## test: ruff, the whole test suite, then the real-kernel suite under user-mode-linux
test: lint unit kernel-suite

lint: $(STAMP) typecheck
	$(BIN)/ruff check setkey_tui tests bench

## typecheck: mypy on the packages listed in pyproject.toml ([tool.mypy] files)
typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -m "not kernel" -q

kernel-suite: $(STAMP)
	$(BIN)/python tests/kernel/uml/run_suite.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

screenshots: $(STAMP)
	$(BIN)/python -m setkey_tui.tui.screenshots screenshots

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
