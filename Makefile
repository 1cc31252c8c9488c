# The two commands a fresh clone needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint wheel-check bench lock clean

# The package states ranges (pyproject.toml); the venv installs the exact versions CI tested.
$(BIN)/stylegram: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: $(BIN)/stylegram  ## stylise the bundled demo photo with the bundled painting -> demo.png
	$(BIN)/stylegram stylize -o demo.png

test: $(BIN)/stylegram  ## the whole test suite, with the real VGG19 weights
	$(BIN)/pytest -q

lint: $(BIN)/stylegram  ## ruff (lint and format) and mypy, as CI runs them
	$(BIN)/ruff check stylegram tests benchmarks docs
	$(BIN)/ruff format --check stylegram tests benchmarks docs
	$(BIN)/mypy stylegram

wheel-check: $(BIN)/stylegram  ## build the wheel, install it in a new venv outside the checkout, run it there
	PYTHON=$(BIN)/python .ci/wheel-check

bench: $(BIN)/stylegram  ## every benchmark's ratio table (about an hour on 2 cores); see docs/benchmarks.md
	$(BIN)/python benchmarks/bench_transfer.py
	$(BIN)/python benchmarks/bench_units.py
	$(BIN)/python benchmarks/bench_large.py --runs 2048:4G --compare 2048
	$(BIN)/python benchmarks/bench_video.py --size 512 --frames 48 --baseline-frames 16
	$(BIN)/python benchmarks/bench_web.py --size 256 --iterations 40 --clients 20 --repeats 3
	$(BIN)/python benchmarks/bench_cluster.py --counts 2000

lock: $(BIN)/stylegram  ## write the venv's exact versions to constraints.txt (after a deliberate upgrade)
	{ echo "# Exact versions that make and CI install (pip install -c constraints.txt); written by 'make lock'."; \
	  $(BIN)/pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.txt

clean:
	rm -rf $(VENV) build dist *.egg-info
