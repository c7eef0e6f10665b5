# Shared set-up for scripts/test and scripts/demo (sourced, not run).

PY="${PYTHON:-python3}"

ensure_venv() {
  # $1: the extra to install: "demo" (amqtt, for the demo) or "test" (the demo's and the
  # test tools). The demo does not need pytest, mypy or ruff, so it does not install them.
  local extra=${1:-demo}
  local stamp=.venv/.dialguard-installed-$extra
  if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing dialguard with the $extra extras"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".[$extra]"
    touch "$stamp"
  fi
}

_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

ensure_broker() {
  # Tests use $DIALGUARD_TEST_BROKER, else 127.0.0.1:1883, else start mosquitto.
  if [ -n "${DIALGUARD_TEST_BROKER:-}" ]; then return; fi
  if _answers 127.0.0.1 1883; then return; fi
  local mosq; mosq="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
  if [ ! -x "$mosq" ]; then
    echo "setup: mosquitto is missing: apt-get install -y mosquitto" >&2; return 1
  fi
  local port dir
  port="$(.venv/bin/python -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
  dir="$(mktemp -d)"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$dir/m.conf"
  "$mosq" -d -c "$dir/m.conf"
  for _ in $(seq 50); do _answers 127.0.0.1 "$port" && break; sleep 0.1; done
  export DIALGUARD_TEST_BROKER="mqtt://127.0.0.1:$port"
  echo "setup: started mosquitto on 127.0.0.1:$port"
}
