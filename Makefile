# The two commands a fresh clone needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/stylegram: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/stylegram  ## stylise the bundled demo photo with the bundled painting -> demo.png
	$(BIN)/stylegram stylize -o demo.png

test: $(BIN)/stylegram  ## the whole test suite, with the real VGG19 weights
	$(BIN)/pytest -q

bench: $(BIN)/stylegram  ## speed and quality tables (minutes); see docs/benchmarks.md
	$(BIN)/python benchmarks/bench_transfer.py

clean:
	rm -rf $(VENV) build *.egg-info
