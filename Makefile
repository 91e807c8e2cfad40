# The README's commands. Everything installs itself into .venv on first use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BOARDS ?= 600519,usBABA,hk09988
PAGES ?= 2
SCRAPY_ARGS ?=

.PHONY: install system-deps test test-fast lint crawl replay-site bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests use (redis-server for scrapy-redis, chromium for scrapy-playwright).
system-deps:
	bash scripts/install-system-deps.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# The whole suite: installs, then lint + type check + tests (services are started by the tests).
test: install system-deps lint
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -x -q -m "not fault"

# The main job: crawl BOARDS into MongoDB (MONGO_URI, or a local nx-27017 under ./var/mongo).
crawl: install
	bash scripts/crawl.sh $(BOARDS) $(PAGES) $(SCRAPY_ARGS)

replay-site: install
	$(BIN)/python -m tests.site

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
