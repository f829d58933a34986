# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps: `make run` needs the runtime dependencies only; lint, types and tests need the dev extra.
RUN_STAMP := $(VENV)/.runtime-stamp
STAMP     := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Browser tests drive Debian's Chromium with Playwright (never `playwright install`) and run
# axe-core, an npm package, in the pages. `make test` never installs them (no sudo, no npm): without
# them those tests are reported as skipped, with the reason. `make browser-deps` (and `.ci/run`) installs them.
CHROMIUM    := /usr/bin/chromium
AXE_VERSION := 4.14.1
AXE_JS      := $(VENV)/axe/node_modules/axe-core/axe.min.js

.PHONY: run test lint types unit browser-deps bench fuzz abuse mutation clean

$(RUN_STAMP): pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/sandbox serve --host $(HOST) --port $(PORT)

test: lint types unit

lint: $(STAMP)
	$(BIN)/ruff check sandbox tests scripts examples
	$(BIN)/ruff format --check sandbox tests scripts examples

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	@[ -x $(CHROMIUM) ] || echo "note: $(CHROMIUM) is missing: the browser tests will be skipped (make browser-deps installs it)"
	@[ -f $(AXE_JS) ] || [ -n "$$SANDBOX_AXE_JS" ] || echo "note: axe-core is missing: the axe test will be skipped (make browser-deps installs it)"
	$(BIN)/pytest

# What the browser tests need, installed on purpose (CI runs it; it may ask for sudo).
browser-deps: $(STAMP)
	[ -x $(CHROMIUM) ] || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }
	[ -f $(AXE_JS) ] || npm install --silent --prefix $(VENV)/axe --no-audit --no-fund axe-core@$(AXE_VERSION)

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
# `mutmut results` and `mutmut show NAME`; MUTMUT_CHILDREN=1 leaves a core to other work.
MUTMUT_STAMP := $(VENV)/.mutmut-stamp
MUTANTS ?=
MUTMUT_CHILDREN ?= 2
$(MUTMUT_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet 'mutmut>=3.3,<4'
	touch $(MUTMUT_STAMP)

mutation: $(MUTMUT_STAMP)
	rm -rf mutants
	timeout 1800 $(BIN)/mutmut run --max-children $(MUTMUT_CHILDREN) $(MUTANTS) > mutation.log 2>&1 || { tail -20 mutation.log; exit 1; }
	$(BIN)/python scripts/mutation_summary.py | tee mutation-summary.txt
	# mutants/ holds a copy of payloads/ and schemas/: left in the tree, the embedded tests would read it
	[ -n "$(KEEP_MUTANTS)" ] || rm -rf mutants

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache mutants mutation.log mutation-summary.txt
