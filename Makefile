# Two commands do all the set-up on a fresh machine (only python3 and make needed):
#   make run   - the MCP server on the embedded sandbox (streamable HTTP on 127.0.0.1)
#   make test  - the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench soak soak-replicas conformance sandbox lint clean views views-check

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/cleavr-mcp serve --transport http

sandbox: $(STAMP)
	$(VENV)/bin/cleavr-mcp sandbox

test: $(STAMP)
	$(PY) -m pytest -n auto -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

# 10,000 tool calls over streamable HTTP from 8 clients against a faulty sandbox (a few minutes).
soak: $(STAMP)
	$(PY) benchmarks/soak.py --json benchmarks/soak_results.json $(SOAK_ARGS)

# 3 HTTP replicas on one PostgreSQL (a throwaway cluster) and a 20 %-faulty sandbox: 5,000 calls from 8 clients to
# random replicas, webhooks delivered twice, one replica SIGKILLed and restarted halfway (a few minutes).
soak-replicas: $(STAMP)
	$(PY) benchmarks/soak_replicas.py --json benchmarks/soak_replicas_results.json $(SOAK_ARGS)

# The soak with two principals (a principals file), each for its own creditor, in parallel: 10,000 calls, every
# answer searched for the other principal's data; PASS needs zero leaks (#15).
.PHONY: soak-tenants
soak-tenants: $(STAMP)
	$(PY) benchmarks/soak.py --tenants 2 --json benchmarks/soak_tenants_results.json $(SOAK_ARGS)

# Real third-party clients: the official MCP conformance suite and the MCP Inspector CLI (Node 22 from npm).
conformance: $(STAMP)
	bash .ci/npm_tools.sh
	$(PY) .ci/third_party.py

# Wheel + sdist in dist/, checked to carry every package file (pages, fonts, PDFs, assets) by .ci/dist_check.py.
.PHONY: dist
dist: $(STAMP)
	rm -f dist/cleavr_mcp-*.whl dist/cleavr_mcp-*.tar.gz
	$(PY) -m build --outdir dist .
	$(PY) .ci/dist_check.py dist

# The MCP Bundle for Claude Desktop: dist/cleavr-mcp-<version>.mcpb (official mcpb CLI, pinned in .ci/npm).
.PHONY: bundle
bundle: dist
	$(PY) mcpb/bundle.py build

# MCP Apps views: bundle views/src + the pinned @modelcontextprotocol/ext-apps into one HTML file per view
# (cleavr_mcp/views/*.html, committed, shipped in the package) and the browser tests' host page script.
views:
	bash .ci/npm_tools.sh
	.cache/npm-tools/node_modules/node/bin/node views/build.mjs

# CI: the committed views are exactly what a fresh build of the sources gives.
views-check:
	bash .ci/npm_tools.sh
	bash .ci/views_check.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check cleavr_mcp tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info

# The approval page's screenshots in docs/ (desktop English, phone French), taken by the real-browser tests
# (the page, and its sign-in form over authenticated HTTP).
.PHONY: approval-screenshots
approval-screenshots: $(STAMP)
	CLEAVR_MCP_SCREENSHOTS=1 $(PY) -m pytest -p no:xdist -q tests/approvals/test_page_browser.py -k french_and_phone
	CLEAVR_MCP_SCREENSHOTS=1 $(PY) -m pytest -p no:xdist -q tests/deploy/test_approval_signin_browser.py
