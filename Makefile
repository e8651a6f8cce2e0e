# Two runtimes (see ../shared/DESIGN.md): .venv (app, Python >= 3.11) and
# .venv-rasa (engine, Python 3.10). Every target creates or refreshes what it needs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

APP_VENV := .venv
ENGINE_VENV := .venv-rasa
APP_STAMP := $(APP_VENV)/.installed
ENGINE_STAMP := $(ENGINE_VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help run test test-fast test-live app engine model model-force bench clean

help:
	@echo "make run    - start the whole system locally (Rasa, actions, gateway, scheduler) on 127.0.0.1"
	@echo "make test   - run every test (both runtimes; trains the model first if it changed)"
	@echo "make test-fast - the app-runtime tests without the live stack, killed processes or a browser (no training)"
	@echo "make test-live - only the whole conversations through the live stack (tests/scenarios/)"
	@echo "make model  - train the Rasa model if config, domain or training data changed"
	@echo "make bench  - run all benchmarks and print their figures"

# Both runtimes install from hash-pinned lock files (scripts/lock.sh regenerates them).
$(APP_STAMP): pyproject.toml requirements-app.lock
	@py=$$(scripts/find-python.sh app) && \
	  { [ -x $(APP_VENV)/bin/python ] && $(APP_VENV)/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { rm -rf $(APP_VENV); "$$py" -m venv $(APP_VENV); }; }
	$(APP_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(APP_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-app.lock
	$(APP_VENV)/bin/python -m pip install --quiet --no-deps -e .
	@touch $@

$(ENGINE_STAMP): requirements-rasa.txt requirements-rasa.lock
	@py=$$(scripts/find-python.sh engine) && \
	  { [ -x $(ENGINE_VENV)/bin/python ] && $(ENGINE_VENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' || { rm -rf $(ENGINE_VENV); "$$py" -m venv $(ENGINE_VENV); }; }
	$(ENGINE_VENV)/bin/python -m pip install --quiet --upgrade 'pip<25' setuptools wheel
	$(ENGINE_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-rasa.lock
	@touch $@

app: $(APP_STAMP)
engine: $(ENGINE_STAMP)

model: app engine
	$(APP_VENV)/bin/python scripts/train_model.py

model-force: app engine
	$(APP_VENV)/bin/python scripts/train_model.py --force

run: model
	$(APP_VENV)/bin/bot run

# Date-sensitive tests run a second time with the injected clock 400 days ahead (tests/clock.py).
CLOCK_SHIFT_TESTS := tests/officials tests/services tests/scheduler/test_followup_kinds.py tests/thai_datetime tests/nlu_admin/test_retention_job.py

test: model
	$(APP_VENV)/bin/python -m pytest $(PYTEST_ARGS)
	TEST_CLOCK_SHIFT_DAYS=400 $(APP_VENV)/bin/python -m pytest -q $(CLOCK_SHIFT_TESTS)
	RASA_TELEMETRY_ENABLED=false PYTHONPATH=$(CURDIR) $(ENGINE_VENV)/bin/python -m pytest -c tests/engine/pytest.ini tests/engine $(PYTEST_ARGS)

# The inner loop: no model training, no live stack, nothing killed, no browser.
FAST_MARKERS := not live and not kill and not multiprocess and not browser

test-fast: app
	$(APP_VENV)/bin/python -m pytest -q -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

test-live: model
	$(APP_VENV)/bin/python -m pytest -m live tests/live $(PYTEST_ARGS)

bench: model
	$(APP_VENV)/bin/python -m benchmarks

clean:
	rm -rf models results var/*.db
