# Two commands for a fresh machine: `make demo` and `make test`. Each sets up .venv by itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install demo test bench chromium clean

# The demo needs the package and its offline extra only (README: "What the install brings"); the tests add
# pytest, ruff, sentence-transformers and tensorboard. Each step prints how long it took.
$(STAMP): pyproject.toml
	@t0=$$(date +%s); set -e; \
	$(PYTHON) -m venv $(VENV); \
	$(PY) -m pip install --quiet --upgrade pip; \
	echo "installing torch/torchvision (pinned: they install from this machine's local disk) and hf-transfer[offline]"; \
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1; \
	$(PY) -m pip install --quiet -e ".[offline]"; \
	touch $(STAMP); echo "install: $$(( $$(date +%s) - t0 )) s"

$(TEST_STAMP): $(STAMP)
	@t0=$$(date +%s); $(PY) -m pip install --quiet -e ".[offline,tracking,test]" && touch $(TEST_STAMP) && \
	echo "test install: $$(( $$(date +%s) - t0 )) s"

install: $(TEST_STAMP)

demo: $(STAMP)
	$(VENV)/bin/hf-transfer demo

# the report's HTML is checked in headless Chromium (Debian's chromium package)
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

test: $(TEST_STAMP) chromium
	$(VENV)/bin/ruff check hf_transfer recipes tests benchmarks
	HF_TRANSFER_REQUIRE_CHROMIUM=1 $(PY) -m pytest -q tests

# speed benchmarks (never run by CI): ratios side by side in one run, each the median over repeats (or seeds) with
# its range; JSON lines to benchmarks/results.jsonl, tagged with this run's id; then README's table, this run beside
# the one before
bench: $(TEST_STAMP)
	@export BENCH_RUN=$$(date +%Y%m%d-%H%M%S); set -e; cd benchmarks; \
	../$(PY) loop_overhead.py --out ../runs/bench_loop; \
	../$(PY) image_pipeline.py; \
	../$(PY) text_padding.py; \
	../$(PY) time_to_accuracy.py --out ../runs/bench_tta; \
	../$(PY) speed_table.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
