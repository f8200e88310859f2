# The two commands of the README:
#   make demo   set up, print the budget verdict and the cheapest fitting plan for the three phase stacks,
#               serve the runtime's demo page
#   make test   set up, lint, and run every test (real Redis, PostgreSQL and Chromium)
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup setup-test demo test test-fast lint budget serve release

setup:
	@bash .ci/setup

setup-test:
	@bash .ci/setup --test

budget: setup
	@$(PY) -m budget check --all; rc=$$?; if [ $$rc -gt 1 ]; then exit $$rc; fi
	@$(PY) -m budget fit --all; rc=$$?; if [ $$rc -gt 1 ]; then exit $$rc; fi

serve: setup
	$(PY) -m runtime serve --host $(HOST) --port $(PORT)

demo: budget serve

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# mypy (about 100 s from a cold cache) runs beside the tests, on the CPU their waits leave free.
test: setup-test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	@log=$$(mktemp); .venv/bin/mypy > "$$log" 2>&1 & mypy_pid=$$!; \
	.venv/bin/python -m pytest -n 4 --dist loadgroup; rc=$$?; \
	wait $$mypy_pid; mypy_rc=$$?; echo "mypy:"; cat "$$log"; rm -f "$$log"; \
	if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; \
	if [ $$mypy_rc -ne 0 ]; then echo "mypy found errors"; exit 1; fi; exit $$rc

# The inner loop: lint, then every test that needs no server, no browser and no whole fit search, with
# the preview fuzzers at 40 examples a property (make test runs 150, STARS_FUZZ_EXAMPLES=5000 a long run).
test-fast: setup lint
	@STARS_FUZZ_EXAMPLES=$${STARS_FUZZ_EXAMPLES:-40} .venv/bin/python -m pytest -n 3 -q -m "not services and not browser and not slow"; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

# The servers' release: dist/stars-runtime-<version>.tar (wheel + wheelhouse for x86_64 and arm64 +
# SHA-256 manifest) and its .sha256; an unchanged tree builds the same digest. `pulumi up` uploads it.
release: setup
	@$(PY) -m runtime.deploy.release --out dist
