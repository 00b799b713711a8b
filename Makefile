# The two commands of the README. Each does its own set-up (tools/setup_env.sh: creates
# .venv on a fresh machine, takes seconds once everything is installed).
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: setup test test-fast demo
setup:
	@bash tools/setup_env.sh

test: setup
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=30

test-fast: setup
	$(PY) -m pytest tests -q -p no:cacheprovider -m "not slow"

demo: setup
	@bash tools/run_demo.sh
