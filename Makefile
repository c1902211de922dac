# Two entry points: `make report` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLAN   ?= analysis_plans/breed-werven-2024.yaml
DATA   ?= data/synthetic
OUT    ?= out

.PHONY: report test lint typecheck pytest schema clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/pilot-eval run $(PLAN) --data $(DATA) --out $(OUT) --force

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy pilot_eval

pytest: $(STAMP)
	$(BIN)/pytest

# Regenerate analysis_plans/plan.schema.json and docs/plan-reference.md after changing plan.py.
schema: $(STAMP)
	$(BIN)/python -m pilot_eval.schema_docs

clean:
	rm -rf $(VENV) $(OUT)
