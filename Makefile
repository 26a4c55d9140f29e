# priorlab: `make demo` runs the main job, `make test` runs the tests. Both create .venv themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo test test-slow browser clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,vision,ray,serve,mlflow]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m priorlab.demo

# Debian's chromium for the report-page tests (installed when running as root and missing).
browser:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

test: $(VENV)/.installed browser
	$(PY) -m pytest -q -n 2

test-slow: $(VENV)/.installed browser
	$(PY) -m pytest -q -m slow

clean:
	rm -rf $(VENV) runs
