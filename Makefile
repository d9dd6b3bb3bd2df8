# Two entry points: `make demo` (the default job) and `make test` (the whole suite).
# Both create or reuse .venv and install what is needed; nothing else is required on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "torch>=2.4,<=2.14.1" "torchvision>=0.19,<=0.29.1"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

.PHONY: install demo test lint chromium
install: $(STAMP)

# the default job: the degradation experiment (plain20/56 and their residual twins) on the built-in digits, three
# seeds each, then a report (about ten minutes on 2 CPU cores); finished runs are reused, so a second
# `make demo` only reports
demo: $(STAMP)
	$(BIN)/reslab compare

# the report tests render HTML in headless Chromium (Debian's package; CI runs as root on a fresh machine)
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# pyflakes and pycodestyle through ruff, as pyproject.toml configures them (CI runs it before the tests)
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts

# two test processes of one torch thread each: two threads in each oversubscribe 2 cores (measured: 4 min 8 s
# against 10 min 0 s for the whole suite)
test: $(STAMP) chromium
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist worksteal -q
