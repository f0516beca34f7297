# The commands a newcomer needs: `make serve`, `make check` while writing, `make test` before a
# pull request. Everything else is optional.
PYTHON ?= python3
export NO_MKDOCS_2_WARNING := 1
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
CODE   := netsim tests benchmarks audit hooks.py macros.py serve.py
# pytest-xdist workers. The lab and try-it tests sleep on kernel timers rather than compute, so
# more workers than cores pays; the longest waits start first, one per worker (tests/conftest.py).
WORKERS ?= 4
XDIST   := -n $(WORKERS) --maxschedchunk=1

.PHONY: serve build test lint format check lab bench audit clean mutants

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; found " + sys.version.split()[0] + ". Set PYTHON=/path/to/python3.11")'
	@echo "==> creating $(VENV) and installing pinned dependencies (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# Scenario files name this schema in their first line, for YAML editors; written from netsim's model.
SCHEMA := diagrams/scenario.schema.json
$(SCHEMA): $(STAMP) $(wildcard netsim/*.py)
	$(BIN)/python -m netsim schema > $@.tmp && mv $@.tmp $@

## serve: build the site and serve it with live reload on http://127.0.0.1:$(PORT) (make serve PORT=8001)
serve: $(STAMP) $(SCHEMA)
	$(BIN)/python serve.py --livereload -a 127.0.0.1:$(PORT)

## build: the strict build; a failing claim or a bad scenario fails it
build: $(STAMP) $(SCHEMA)
	$(BIN)/mkdocs build --strict

## check: the fast loop: lint, validate scenarios, strict build, every test that needs neither
##        root nor a browser (tests marked `lab` or `browser` are left out)
check: $(STAMP) $(SCHEMA)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/python -m netsim check
	$(BIN)/pytest $(XDIST) -m "not lab and not browser"

## test: lint, validate scenarios, strict build, then every test (the lab and browser ones too)
test: $(STAMP) $(SCHEMA)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/python -m netsim check
	$(BIN)/pytest $(XDIST)

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)

format: $(STAMP)
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

## lab: compare every scenario with the real kernel (needs root)
lab: $(STAMP)
	@for f in diagrams/*.yaml; do $(BIN)/python -m netsim lab $$f --compare || exit 1; done

## bench: measure build cost and simulator speed (prints a table, writes benchmarks/results.json)
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf site .cache .pytest_cache .ruff_cache .hypothesis mutants

## audit: bytes on first load and Lighthouse scores per post (needs Node.js and Chromium)
audit: $(STAMP)
	$(BIN)/python audit/run.py

## mutants: mutation testing with mutmut (pinned, own venv) against the fast tests; slow, per module
MUTANTS_VENV := .venv-mutants
$(MUTANTS_VENV)/.installed: requirements.txt requirements-mutants.txt
	@echo "==> creating $(MUTANTS_VENV) with mutmut (first run only)"
	$(PYTHON) -m venv $(MUTANTS_VENV)
	$(MUTANTS_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-mutants.txt
	@touch $@

mutants: $(MUTANTS_VENV)/.installed
	$(MUTANTS_VENV)/bin/python benchmarks/mutants.py $(MODULES)
