# DropOnAir Rooms. `make run` starts the local stack; `make test` runs every test.
# Both set up what they need first: Debian packages, npm tools, the virtualenv.
VENV   := .venv
PY     := $(VENV)/bin/python
# a change to the pins or to the SDK's pyproject.toml (its dependencies, its console
# script) reinstalls; the SDK is installed editable, so its code needs no reinstall
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt sdk/python/pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup system tools venv test test-unit run bench bench-sfu bench-api bench-burst bench-dynamodb bench-recording package deploy destroy clean

setup: system tools venv

system:
	@bash scripts/bootstrap-system.sh

tools:
	@bash scripts/bootstrap-tools.sh

# the virtualenv, and the media node's C modules (each rebuilt when its source changes)
venv: $(STAMP)
	@$(PY) -m media_node.build_native >/dev/null

$(STAMP): requirements.txt sdk/python/pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -e sdk/python
	@rm -f $(VENV)/.installed-* && touch $@

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

run: setup
	$(PY) -m devstack.run

# every benchmark, one after another (about 16 minutes); never part of make test
bench: bench-store bench-api bench-burst bench-dynamodb bench-sfu bench-recording

bench-store: setup
	$(PY) bench/event_store.py

# SFU load: the media node against MediaRelay and Janus (needs root for ip netns)
bench-sfu: setup
	$(PY) bench/sfu_load.py $(BENCH_ARGS)

bench-api: setup
	$(PY) bench/api.py

# concurrent joins over HTTP, group commit vs the old retry loop; save latency vs table size
bench-burst: setup
	$(PY) bench/join_burst.py $(BENCH_ARGS)

# per-track recording's CPU over forwarding, stop to complete in S3, GCS and Azure, the
# composite against ffmpeg (about 6 minutes)
bench-recording: setup
	$(PY) bench/recording.py $(BENCH_ARGS)

# the embedded DynamoDB's start-up with 100,000 items (journal replay and snapshot)
bench-dynamodb: setup
	$(PY) bench/dynamodb_restart.py $(BENCH_ARGS)

# every template, offline, in infra/build/out: the control plane's SAM template and Lambda
# zip, the media nodes' and the observability stacks (no AWS call; docs/deploy.md)
package: venv
	$(PY) -m infra.package $(PACKAGE_ARGS)

# the three stacks in order with the AWS CLI (settings from the environment: docs/deploy.md;
# DEPLOY_ARGS=--dry-run prints the commands); never run by the tests
deploy: package
	$(PY) -m infra.deploy deploy $(DEPLOY_ARGS)

# deletes the stacks in reverse; the tables and the KMS key are retained
destroy: venv
	$(PY) -m infra.deploy destroy $(DEPLOY_ARGS)

clean:
	rm -rf $(VENV) .tools .data .pytest_cache .hypothesis infra/build
