# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Browser tests drive Debian's Chromium with Playwright (never `playwright install`) and run
# axe-core, an npm package, in the pages.
CHROMIUM    := /usr/bin/chromium
AXE_VERSION := 4.14.1
AXE_JS      := $(VENV)/axe/node_modules/axe-core/axe.min.js
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint types unit bench fuzz abuse mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sandbox serve --host $(HOST) --port $(PORT)

test: lint types unit

lint: $(STAMP)
	$(BIN)/ruff check sandbox tests scripts examples
	$(BIN)/ruff format --check sandbox tests scripts examples

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(CHROMIUM) $(AXE_JS)
	$(BIN)/pytest

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq chromium

$(AXE_JS): | $(STAMP)
	npm install --silent --prefix $(VENV)/axe --no-audit --no-fund axe-core@$(AXE_VERSION)

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

# Not part of `make test`: 20,000 hostile requests to a real sandbox, then schemathesis over every
# served OpenAPI document. schemathesis is installed here only (it brings a dozen packages).
FUZZ_STAMP := $(VENV)/.fuzz-stamp
$(FUZZ_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet 'schemathesis>=4,<5'
	touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	$(BIN)/python scripts/fuzz.py

# Memory, body size and event-loop abuse of a real sandbox process, with pass/fail per target.
abuse: $(STAMP)
	$(BIN)/python scripts/abuse.py

# Not part of `make test`: mutmut over the request-path modules ([tool.mutmut] in pyproject.toml)
# against the fast in-process tests, two workers, then the per-module table (docs/mutation.md).
# One module at a time: make mutation MUTANTS='sandbox.serve.pipeline*'; KEEP_MUTANTS=1 keeps mutants/ for
# `mutmut results` and `mutmut show NAME`.
MUTMUT_STAMP := $(VENV)/.mutmut-stamp
MUTANTS ?=
$(MUTMUT_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet 'mutmut>=3.3,<4'
	touch $(MUTMUT_STAMP)

mutation: $(MUTMUT_STAMP)
	rm -rf mutants
	timeout 1800 $(BIN)/mutmut run --max-children 2 $(MUTANTS) > mutation.log 2>&1 || { tail -20 mutation.log; exit 1; }
	$(BIN)/python scripts/mutation_summary.py | tee mutation-summary.txt
	# mutants/ holds a copy of payloads/ and schemas/: left in the tree, the embedded tests would read it
	[ -n "$(KEEP_MUTANTS)" ] || rm -rf mutants

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache mutants mutation.log mutation-summary.txt
