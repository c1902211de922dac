# Two entry points: `make report` and `make test`. Both build .venv themselves, as any user:
# neither calls a system package manager nor needs root.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLAN   ?= analysis_plans/breed-werven-2024.yaml
DATA   ?= data/synthetic
OUT    ?= out

.PHONY: report test lint typecheck pytest wheel-check test-lowest schema clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,pdf]'
	touch $(STAMP)

# The PDF needs the system libraries Pango and HarfBuzz (README.md); without them the run
# writes the HTML and Markdown reports and says in one line that the PDF was skipped.
report: $(STAMP)
	$(BIN)/pilot-eval run $(PLAN) --data $(DATA) --out $(OUT) --force

test: lint typecheck pytest wheel-check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy pilot_eval

pytest: $(STAMP)
	$(BIN)/pytest

# Build the wheel, install it into a fresh venv and run the example plan from a temporary
# folder, as a user who installs pilot-eval does.
wheel-check: $(STAMP)
	scripts/check-wheel.sh $(BIN)/python

# The test suite with every dependency at the lower bound pyproject.toml declares.
test-lowest:
	scripts/test-lowest.sh $(PYTHON)

# Regenerate the plan's JSON Schema and docs/plan-reference.md after changing plan.py.
schema: $(STAMP)
	$(BIN)/python -m pilot_eval.reference

clean:
	rm -rf $(VENV) $(OUT) build dist
