# fxcheck — developer and user entry points.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0

.PHONY: install demo test bench clean

$(BIN)/fxcheck: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build; an unpinned resolve would pull gigabytes of CUDA packages
	$(BIN)/pip install --quiet "$(TORCH)"
	# torch repeated on the line that could touch it (lightning, accelerate and transformers ask for torch)
	$(BIN)/pip install --quiet "$(TORCH)" -e '.[dev,frameworks]'
	@touch $@

install: $(BIN)/fxcheck

demo: install
	@# the first sample has a deliberate bug: its exit code 1 (an error finding) is what the demo expects
	@$(BIN)/fxcheck trace samples/fx104_clip_scaled_gradients.py --steps 6; code=$$?; \
	  echo "demo: exit code $$code (1 expected: the sample's deliberate FX104 bug was found)"; test $$code -eq 1
	$(BIN)/fxcheck trace samples/clean_amp_accumulation.py --steps 8

test: install
	$(BIN)/python -m pytest -q

bench: install
	@# overhead against plain python, then how the cost grows with the run's length; both tables, then the verdict
	@$(BIN)/python bench/overhead.py; a=$$?; $(BIN)/python bench/growth.py; b=$$?; test $$a -eq 0 -a $$b -eq 0

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
