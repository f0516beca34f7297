# The commands a newcomer needs: `make serve`, `make check` while writing, `make test` before a
# pull request. Everything else is optional.
PYTHON ?= python3
export NO_MKDOCS_2_WARNING := 1
VENV   := .venv
BIN    := $(VENV)/bin
BUILD_STAMP := $(VENV)/.installed-build
STAMP  := $(VENV)/.installed
# Every requirement is pinned with its hashes (requirements-*.txt, written by `make lock`): pip
# installs nothing whose hash is not listed.
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check --require-hashes
PORT   ?= 8000
CODE   := netsim tests benchmarks audit hooks.py macros.py serve.py
# pytest-xdist workers. `make check` computes and never waits: one worker per core, each given whole
# files (--dist loadfile), so the tests of a file share what it caches per process (the claim
# audit's traces, the attack corpus's outcomes) and each worker collects once; more workers than
# cores only add that per-worker cost. The files go out longest first (tests/conftest.py, LONGEST),
# not by how many tests each holds (xdist's default, which left the one-test page-store and
# serve-rebuild files, 26 s between them, for last). `make test` also runs the lab and try-it tests
# (WAITING), which sleep on kernel timers rather than compute: tests/run.py runs them in a pytest of
# their own on WAIT_WORKERS workers (a sleeping worker costs memory, not CPU; but each lab's steps
# are timed, and more labs at once contend when they wake: with six, a clean-clone run once failed
# two lab comparisons on timers at their edge, when the browser tests drove the full chromium; since
# they drive its headless shell, at half the CPU, six ran a clean clone with no rerun, 11 min 54 s
# against 12 min 54 s with four), longest waits first (tests/conftest.py),
# at the same time as a pytest of every other test on WORKERS workers, test by test
# (--maxschedchunk=1: nothing queues behind a long test), niced and SCHED_IDLE so that a waking lab,
# whose steps are timed, gets a core at once. (xdist's loadgroup would group finer, but pytest 9
# ignores the node-id suffix xdist 3.8 groups by: Node.nodeid no longer reads _nodeid.)
CHECK_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
WORKERS ?= $(CHECK_WORKERS)
WAIT_WORKERS ?= 6
# When the computing run ends, the machine is the labs' alone: a second pytest of the waiting tests
# starts on LATE_WAIT_WORKERS more workers and takes the ones not yet started (tests/waiting_claims.py).
# Eight since a short lab test costs ~0.45 CPU s (0.73 before netsim stayed loaded between them).
LATE_WAIT_WORKERS ?= 8
# The tests that wait, by marker: the lab and try-it files, and the few tests elsewhere that run the
# lab or the generated script (the attack corpus, the decoder's and check's real-program tests).
WAITING := lab or waits

.PHONY: serve build build-zensical test lint format check claims lab labfuzz bench bench-tests bench-lab audit clean mutants lock golden reach

# The build set: what `make build` and `make serve` need, and all a reader building the site installs.
$(BUILD_STAMP): requirements-build.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; found " + sys.version.split()[0] + ". Set PYTHON=/path/to/python3.11")'
	@echo "==> installing the site's build dependencies into $(VENV), pinned with hashes (first run only)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements-build.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# The test set on top: pytest, Playwright, ruff, scapy and what they pull in.
$(STAMP): $(BUILD_STAMP) requirements.txt requirements-test.txt
	@echo "==> installing the test dependencies into $(VENV), pinned with hashes (first run only)"
	$(PIP) -r requirements.txt
	@touch $@

## lock: re-pin requirements-*.txt with hashes from the requirements-*.in files (after editing one)
LOCK_VENV := build/lock-venv
lock:
	@test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet pip-tools)
	@for set in build test mutants zensical; do \
	  echo "==> requirements-$$set.txt"; \
	  $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
	    --no-emit-find-links -o requirements-$$set.txt requirements-$$set.in || exit 1; \
	done

# Scenario files name this schema in their first line, for YAML editors; written from netsim's model.
SCHEMA := diagrams/scenario.schema.json
$(SCHEMA): $(BUILD_STAMP) $(wildcard netsim/*.py)
	$(BIN)/python -m netsim schema > $@.tmp && mv $@.tmp $@

## serve: build the site and serve it with live reload on http://127.0.0.1:$(PORT) (make serve PORT=8001)
serve: $(BUILD_STAMP) $(SCHEMA)
	$(BIN)/python serve.py --livereload -a 127.0.0.1:$(PORT)

## build: the strict build; a failing claim or a bad scenario fails it
build: $(BUILD_STAMP) $(SCHEMA)
	$(BIN)/mkdocs build --strict

## build-zensical: the same site built by Zensical (pinned, own venv) into site-zensical/
ZENSICAL_VENV := .venv-zensical
$(ZENSICAL_VENV)/.installed: requirements-build.txt requirements-zensical.txt
	@echo "==> creating $(ZENSICAL_VENV) with Zensical, pinned with hashes (first run only)"
	@test -x $(ZENSICAL_VENV)/bin/python || $(PYTHON) -m venv $(ZENSICAL_VENV)
	$(ZENSICAL_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes \
	  -r requirements-build.txt -r requirements-zensical.txt
	@touch $@

build-zensical: $(ZENSICAL_VENV)/.installed
	$(ZENSICAL_VENV)/bin/python -m netsim guard-pages
	$(ZENSICAL_VENV)/bin/zensical build --clean -f zensical.yml
	$(ZENSICAL_VENV)/bin/python -m netsim site-files site-zensical

## check: the fast loop: lint, validate scenarios, strict build, every test that needs neither
##        root nor a browser (tests marked `lab`, `browser` or `generator` are left out). The strict
##        build is the tests' shared site (tests/conftest.py, built once) and the claim audit is
##        test_claim_audit's first test, so neither runs twice; `make claims` prints its table.
##        Run with --quick: the tests that try many generated cases (random stories, the attack
##        corpus, the lab's edge cases and recordings, the served site after each edit) try a
##        sample of them (every post's scenario and every case changed since main among them);
##        every test runs and every assertion holds; `make test` tries every case.
check: $(STAMP) $(SCHEMA)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/python -m netsim check
	$(BIN)/pytest -n $(CHECK_WORKERS) --dist loadfile --no-loadscope-reorder --quick -m "not lab and not browser and not generator"

## test: lint, validate scenarios, then every test (lab and browser too); the strict build and the
##       claim audit run inside pytest as in `make check` (`make claims` prints the audit's table).
##       The lab and try-it tests (WAITING) run beside the rest in a pytest of their own (tests/run.py).
test: $(STAMP) $(SCHEMA)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/python -m netsim check
	$(BIN)/python tests/run.py --workers $(WORKERS) --wait-workers $(WAIT_WORKERS) --late-wait-workers $(LATE_WAIT_WORKERS) --waiting-marker "$(WAITING)" \
	  --zensical-venv

## claims: the claim audit; every claim must be falsifiable by a netsim fault or a scenario change
claims: $(STAMP)
	$(BIN)/python -m netsim claims

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)

format: $(STAMP)
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

## golden: after a change meant to alter figures, rewrite tests/golden (the DOT text of every figure
##         the posts draw, the bytes view's and the ticks' sentences, the try-it scripts' commands, which
##         `make check` compares) and print which changed; review `git diff tests/golden`
golden: $(STAMP)
	$(BIN)/python tests/golden.py

## lab: compare every scenario with the real kernel (needs root)
lab: $(STAMP)
	@for f in diagrams/*.yaml; do $(BIN)/python -m netsim lab $$f --compare || exit 1; done

## labfuzz: random scenarios of one topology family, each compared with the kernel (needs root);
##          repeatable disagreements are kept in build/labfuzz/ (FAMILY lan|nat|names|rooms; SEED, COUNT:
##          which and how many)
FAMILY ?= lan
SEED   ?= 1
COUNT  ?= 20
labfuzz: $(STAMP)
	$(BIN)/python tests/labfuzz.py --family $(FAMILY) --seed $(SEED) --count $(COUNT)

## reach: which lines of netsim's mechanisms the kernel's recordings reach (LINES=1 lists the others)
reach: $(STAMP)
	$(BIN)/python benchmarks/reach.py

## bench: measure build cost and simulator speed (prints a table, writes benchmarks/results.json)
bench: $(STAMP) $(ZENSICAL_VENV)/.installed
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/generators.py

## bench-tests: what make check's tests cost, in CPU seconds per file, with the wall time and the
##              load (writes build/bench/tests.json; make bench-tests ARGS=--full for make test's cases)
bench-tests: $(STAMP)
	$(BIN)/python benchmarks/tests.py --workers $(CHECK_WORKERS) $(ARGS)

## bench-lab: what a lab run costs (CPU s, wall s, `ip` and `bridge` processes), this work tree against
##            AGAINST (default HEAD), side by side in one run on a sample of scenarios (needs root)
AGAINST ?= HEAD
bench-lab: $(STAMP)
	$(BIN)/python benchmarks/labcost.py --against $(AGAINST) $(ARGS)

clean:
	rm -rf site site-zensical .cache .pytest_cache .ruff_cache .hypothesis mutants

## audit: bytes on first load and Lighthouse scores per post (needs Node.js and Chromium)
audit: $(STAMP)
	$(BIN)/python audit/run.py

## mutants: mutation testing with mutmut (pinned, own venv) against the fast tests; slow, per module
MUTANTS_VENV := .venv-mutants
$(MUTANTS_VENV)/.installed: requirements.txt requirements-build.txt requirements-test.txt requirements-mutants.txt
	@echo "==> creating $(MUTANTS_VENV) with mutmut (first run only)"
	$(PYTHON) -m venv $(MUTANTS_VENV)
	$(MUTANTS_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes \
	  -r requirements.txt -r requirements-mutants.txt
	@touch $@

mutants: $(MUTANTS_VENV)/.installed
	$(MUTANTS_VENV)/bin/python benchmarks/mutants.py $(MODULES)
