# Two entry points for a newcomer: `make run` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV := .venv
# python-snap7 2.x bundles the Snap7 C library; it shares the import name `snap7` with 3.x,
# so it lives in an environment of its own and the tests drive it as a subprocess.
SNAP7C_VENV := .venv-snap7c
# c104 2.2.1's TLS client fails every handshake (its mbedTLS wants a host name it never sets);
# 2.2.0's works, so the TLS interop tests drive 2.2.0 from an environment of its own.
C104TLS_VENV := .venv-c104tls
BIN := $(VENV)/bin
APP ?= examples/quickstart.yaml

.PHONY: run test lint bench install clean schema docs tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/.installed-test
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

$(SNAP7C_VENV)/.installed:
	$(PYTHON) -m venv $(SNAP7C_VENV)
	$(SNAP7C_VENV)/bin/python -m pip install -q python-snap7==2.1.0
	touch $@

$(C104TLS_VENV)/.installed:
	$(PYTHON) -m venv $(C104TLS_VENV)
	$(C104TLS_VENV)/bin/python -m pip install -q c104==2.2.0
	touch $@

install: $(VENV)/.installed

# tshark checks that what we send on the wire dissects cleanly; Mosquitto (the broker, with
# mosquitto_sub/mosquitto_pub) is the MQTT tests' peer (Debian's packages).
tools:
	@command -v tshark >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing tshark (wire-conformance tests)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark >/dev/null; }; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark >/dev/null; \
	  else \
	    echo "tshark is missing and cannot be installed here: install Wireshark's tshark for the wire-conformance test"; \
	  fi; }
	@{ { command -v mosquitto || test -x /usr/sbin/mosquitto; } && command -v mosquitto_pub; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing mosquitto and mosquitto-clients (MQTT tests)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; }; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; \
	  else \
	    echo "mosquitto is missing and cannot be installed here: install Mosquitto (broker and clients) for the MQTT tests"; \
	  fi; }

run: $(VENV)/.installed
	$(BIN)/incore run $(APP)

# Lint first: ruff's lint and format check (configured in pyproject.toml) take seconds.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(VENV)/.installed-test $(SNAP7C_VENV)/.installed $(C104TLS_VENV)/.installed tools lint
	INCORE_SNAP7C_PYTHON=$(abspath $(SNAP7C_VENV))/bin/python \
	INCORE_C104TLS_PYTHON=$(abspath $(C104TLS_VENV))/bin/python $(BIN)/python -m pytest -q

bench: $(VENV)/.installed-bench $(SNAP7C_VENV)/.installed
	INCORE_SNAP7C_PYTHON=$(abspath $(SNAP7C_VENV))/bin/python $(BIN)/python -m bench

schema: $(VENV)/.installed
	$(BIN)/incore schema -o schemas/incore-app.schema.json

docs: $(VENV)/.installed
	$(BIN)/python -m incore.app.docs docs/reference

clean:
	rm -rf $(VENV) $(SNAP7C_VENV) *.egg-info .pytest_cache .hypothesis
