# The README's two commands: `make run` and `make test`. Both set up .venv when needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# The first-party model plugins, each its own distribution with an entry point.
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
SOURCES := pyproject.toml mteb_xalign_autoload.pth $(shell find mteb_xalign plugins -type f \( -name '*.py' -o -name '*.toml' -o -name '*.jsonl' -o -name '*.json' -o -name '*.md' -o -name '*.csv' -o -name 'LICENSE*' \) -not -path '*/__pycache__/*' 2>/dev/null)
# CPU wheel of torch for machines without a GPU; a torch already in the venv is kept.
TORCH_SPEC ?= torch==2.13.0
OUT ?= results
LEADERBOARD ?= leaderboards
# `make run` verifies the bundled rows: one seeded subset per task re-run (the cache the run just
# filled makes it cheap here; XALIGN_CACHE=off make run re-encodes). See README "Leaderboard".
VERIFY_ARGS ?= --seed make-run --sample 1
# Debian packages: chromium for the browser tests (driven by Playwright), and Noto fonts for every
# script of the shipped languages (Arabic, Persian, Devanagari, Thai, Hebrew, Greek, Cyrillic:
# noto-core; Chinese, Japanese, Korean: noto-cjk), so `xalign plot` draws every word.
SYSTEM_PACKAGES ?= chromium chromium-driver fonts-noto-core fonts-noto-cjk

.PHONY: setup run test bench gpu-check leaderboard clean
setup: $(VENV)/.deps $(VENV)/.installed $(VENV)/.system

$(VENV)/.system: Makefile
	@missing="$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" -eq 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "missing Debian packages: $$missing; run 'sudo apt-get install -y $$missing'" >&2; \
	fi
	@mkdir -p $(VENV) && touch $@

$(VENV)/.deps: pyproject.toml $(PLUGINS) Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install "$(TORCH_SPEC)"
	$(PIP) install hatchling
	$(PIP) install . $(patsubst %/pyproject.toml,./%,$(PLUGINS)) ".[plot,test,ray]"
	touch $@

# Installed as wheels, not editable: the tests exercise what a user gets from `pip install`.
# Reinstalled (no deps, no isolation: seconds) whenever a source file changes.
$(VENV)/.installed: $(VENV)/.deps $(SOURCES)
	$(PIP) install --no-deps --no-build-isolation --force-reinstall . $(patsubst %/pyproject.toml,./%,$(PLUGINS))
	touch $@

run: setup
	$(VENV)/bin/xalign run --all --output $(OUT)
	$(VENV)/bin/xalign leaderboard submit $(OUT) --replace --leaderboard $(LEADERBOARD)
	$(VENV)/bin/xalign leaderboard verify $(OUT) $(VERIFY_ARGS) --leaderboard $(LEADERBOARD)
	$(VENV)/bin/xalign leaderboard build --leaderboard $(LEADERBOARD)

leaderboard: setup
	$(VENV)/bin/xalign leaderboard build --leaderboard $(LEADERBOARD)

# The core's tests and every plugin's own tests (plugins/<name>/tests/).
test: setup
	cd tests && ../$(VENV)/bin/python -m pytest -q -p no:cacheprovider . ../plugins $(PYTEST_ARGS)

# `make bench BENCH_ARGS=--quick` for the short version; --strict refuses a loaded machine.
BENCH_ARGS ?=
bench: setup
	$(PY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info

# benchmarks/gpu_check.py: device choice, bf16 MiniLM, torch ranking at 1M, one `xalign align train`
# step (and `make run`'s time with GPU_CHECK_ARGS=--make-run), as name=value lines; on CPU: small
# sizes, gpu=absent. No `setup` prerequisite: on a lent GPU machine (no network) run it with that
# machine's python, `make gpu-check PY=python3` (README "Benchmarks").
GPU_CHECK_ARGS ?=
gpu-check:
	$(PY) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)
