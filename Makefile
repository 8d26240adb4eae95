# The two commands of the README:
#   make demo   builds .venv if missing, generates a corpus with a known answer and runs `rlm-adk ask` on it
#   make test   builds .venv if missing, then ruff check, ruff format --check and pytest
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test lint demo clean browser

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# one resolver run for everything: ADK caps OpenTelemetry, a second install can break the cap
	# `local` compiles llama-cpp-python once (about 5 minutes on 2 cores; pip caches the wheel)
	$(PY) -m pip install -q -e '.[dev,pdf,local,deploy]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The browser test drives Debian's Chromium (never a downloaded browser); installed here when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: install Debian's chromium (sudo apt-get install chromium) for the browser test"; fi; }

test: lint browser
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) tools/demo.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
