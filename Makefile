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

bench: $(BIN)/stylegram  ## every benchmark's ratio table (about an hour on 2 cores); see docs/benchmarks.md
	$(BIN)/python benchmarks/bench_transfer.py
	$(BIN)/python benchmarks/bench_units.py
	$(BIN)/python benchmarks/bench_large.py --runs 2048:4G --compare 2048
	$(BIN)/python benchmarks/bench_video.py --size 512 --frames 48 --baseline-frames 16
	$(BIN)/python benchmarks/bench_web.py --size 256 --iterations 40 --clients 20 --repeats 3
	$(BIN)/python benchmarks/bench_cluster.py --counts 2000

clean:
	rm -rf $(VENV) build *.egg-info
