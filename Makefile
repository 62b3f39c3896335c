# Two commands for a fresh machine: `make demo` and `make test`. Each sets up .venv by itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install demo test bench chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch/torchvision first, pinned: they install from this machine's local disk
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e ".[offline,tracking,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hf-transfer demo

# the report's HTML is checked in headless Chromium (Debian's chromium package)
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

test: $(STAMP) chromium
	$(VENV)/bin/ruff check hf_transfer recipes tests benchmarks
	HF_TRANSFER_REQUIRE_CHROMIUM=1 $(PY) -m pytest -q tests

# speed benchmarks (never run by CI): ratios side by side in one run; JSON lines to benchmarks/results.jsonl
bench: $(STAMP)
	cd benchmarks && ../$(PY) loop_overhead.py --repeats 2 --out ../runs/bench_loop
	cd benchmarks && ../$(PY) image_pipeline.py
	cd benchmarks && ../$(PY) text_padding.py --out ../runs/bench_text
	cd benchmarks && ../$(PY) time_to_accuracy.py --out ../runs/bench_tta

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
