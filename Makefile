# Two entry points: `make report` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLAN   ?= analysis_plans/breed-werven-2024.yaml
DATA   ?= data/synthetic
OUT    ?= out

.PHONY: report test lint typecheck pytest schema clean system-deps

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

report: $(STAMP) system-deps
	$(BIN)/pilot-eval run $(PLAN) --data $(DATA) --out $(OUT) --force

# WeasyPrint (the PDF report) needs Pango from the system; install it when it is missing.
# HarfBuzz-Subset too: without it WeasyPrint warns, and the tests turn warnings into errors.
system-deps:
	@ldconfig -p | grep -q 'libpango-1.0.so' && ldconfig -p | grep -q 'libpangoft2-1.0.so' && \
	  ldconfig -p | grep -q 'libharfbuzz-subset.so' || \
	  { echo "Installing Pango and HarfBuzz for the PDF report (Debian packages)"; \
	    apt-get update -qq && apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 \
	      libharfbuzz-subset0 fonts-dejavu-core; }

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy pilot_eval

pytest: $(STAMP) system-deps
	$(BIN)/pytest

# Regenerate analysis_plans/plan.schema.json and docs/plan-reference.md after changing plan.py.
schema: $(STAMP)
	$(BIN)/python -m pilot_eval.schema_docs

clean:
	rm -rf $(VENV) $(OUT)
