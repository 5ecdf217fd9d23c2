#!/usr/bin/env bash
# One bootstrap for `.ci/run`, `npm test` and `npm run demo`, so they cannot drift apart.
# It installs what a brand-new Debian machine lacks (as root), makes sure a Docker engine
# answers, and then does what was asked:
#   bootstrap.sh ci     install everything, npm ci, npm run lint, then npm test
#   bootstrap.sh test   the test suite (what `npm test` runs)
#   bootstrap.sh demo   lab up, all suites, Allure report (what `npm run demo` runs)
#   bootstrap.sh env    only make sure the machine is ready
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-env}"
say() { printf 'driftless: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }

apt_updated=0
apt_install() { # apt_install <package>...: installs only what is missing
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! can_apt; then
    say "missing Debian packages: ${missing[*]}; install them (as root: apt-get install -y ${missing[*]}) and run again"
    exit 3
  fi
  say "installing ${missing[*]} (apt-get)"
  if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

ensure_engine() {
  engine_answers && return 0
  if ! can_apt; then
    say "no Docker engine answers and this machine cannot start one for you (needs root on Debian): start Docker (e.g. \`sudo systemctl start docker\`) or set DOCKER_HOST, then run again"
    exit 3
  fi
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  # containerd runs on its own: dockerd's embedded one gives up after 60 s, and a machine that
  # kept many stopped containers (a bench fleet, say) takes longer than that to clean their shims.
  local clog=/var/log/driftless-containerd.log log=/var/log/driftless-dockerd.log sock=/run/containerd/containerd.sock
  if ! ctr --address "$sock" version >/dev/null 2>&1; then
    say "starting containerd (log: $clog)"
    nohup containerd >"$clog" 2>&1 &
    local cpid=$!
    for i in $(seq 1 240); do
      ctr --address "$sock" version >/dev/null 2>&1 && break
      kill -0 "$cpid" 2>/dev/null || { say "containerd exited at start; last lines of $clog:"; tail -5 "$clog" >&2; exit 3; }
      [ "$i" = 240 ] && { say "containerd did not answer within 120 s; see $clog"; exit 3; }
      sleep 0.5
    done
  fi
  say "no Docker engine answered; started dockerd --iptables=false --ip6tables=false --bridge=none (log: $log)"
  nohup dockerd --iptables=false --ip6tables=false --bridge=none --containerd="$sock" >"$log" 2>&1 &
  local dpid=$! t=0
  # Restoring the engine's stopped containers takes about 85 ms each, so wait long, and say so.
  while ! engine_answers; do
    kill -0 "$dpid" 2>/dev/null || { say "dockerd exited at start; last lines of $log:"; tail -5 "$log" >&2; exit 3; }
    [ "$t" -ge 600 ] && { say "dockerd did not answer within 300 s; see $log"; exit 3; }
    [ "$t" -gt 0 ] && [ $((t % 30)) = 0 ] && say "waiting for dockerd ($((t / 2)) s; it restores $(ls /var/lib/docker/containers 2>/dev/null | wc -l) containers)"
    sleep 0.5; t=$((t + 1))
  done
}

ensure_node_modules() {
  if [ "$mode" = ci ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

ensure_moto() {
  command -v moto_server >/dev/null 2>&1 && return 0
  say "installing moto[server] (pip) for the EC2 tests"
  python3 -m pip install -q --disable-pip-version-check "moto[server]"
}

# compliance-trestle (IBM's OSCAL toolkit, pydantic models of OSCAL 1.1.3): the tests validate the
# OSCAL outputs with it. Pinned to the last line that models OSCAL 1.1.x, in its own venv so its
# dependencies never meet moto's.
TRESTLE_VERSION=3.12.4
TRESTLE_VENV=.driftless/tools/trestle
ensure_trestle() {
  [ -x "$TRESTLE_VENV/bin/trestle" ] && "$TRESTLE_VENV/bin/python" -c "import trestle, sys; sys.exit(trestle.__version__ != '$TRESTLE_VERSION')" 2>/dev/null && return 0
  say "installing compliance-trestle $TRESTLE_VERSION (pip, into $TRESTLE_VENV) for the OSCAL tests"
  python3 -m venv "$TRESTLE_VENV" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$TRESTLE_VENV"; }
  "$TRESTLE_VENV/bin/python" -m pip install -q --disable-pip-version-check "compliance-trestle==$TRESTLE_VERSION"
}

ensure_machine() {
  # openssh-client: ssh-keygen for lab keys; debootstrap: the lab's base image without a
  # registry; a JRE: allure-commandline; docker.io: the engine and its client.
  apt_install openssh-client debootstrap ca-certificates
  command -v java >/dev/null 2>&1 || apt_install default-jre-headless
  # chromium: the report is checked in a real browser (Playwright cannot download its own here)
  [ -x /usr/bin/chromium ] || apt_install chromium
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  ensure_engine
  ensure_node_modules
}

case "$mode" in
  env) ensure_machine ;;
  ci)
    ensure_machine
    ensure_moto
    ensure_trestle
    npm run lint
    npm test
    ;;
  test)
    ensure_machine
    ensure_moto
    ensure_trestle
    npx tsc --noEmit -p .
    node --import tsx --test --test-concurrency=1 --test-reporter=spec test/unit/*.test.ts test/integration/*.test.ts
    ;;
  demo)
    ensure_machine
    ./bin/driftless.js lab up
    # The lab's snowflake fleet is a deliberate negative control: exit 1 (violations) is expected.
    rc=0; ./bin/driftless.js run "${@:2}" || rc=$?
    [ $rc -le 1 ] || { say "the run failed (exit $rc)"; exit $rc; }
    rc=0; ./bin/driftless.js report --single-file || rc=$?
    [ $rc -le 1 ] || { say "the report failed (exit $rc)"; exit $rc; }
    say "demo done: open driftless-output/report-single/index.html (one file, opens from disk) or run: npx allure open driftless-output/report"
    ;;
  *) say "unknown mode \"$mode\" (ci, test, demo, env)"; exit 2 ;;
esac
