#!/usr/bin/env bash
# Runs the receiver compliance suite of github.com/prometheus/compliance
# (remotewrite/receiver, Remote-Write 2.0 and 1.0 compatibility) against a
# watchdog started with --web.enable-remote-write-receiver.
#
# The suite is its own Go module (it links Prometheus's config and cloud
# auth packages, which the watchdog's module must not), so it runs from a
# checkout: COMPLIANCE_DIR names one, else the repository is cloned into a
# temporary directory. The suite sends requests only; it does not read the
# data back (e2e/remote_receive_test.go does).
#
#   e2e/remotewrite-compliance.sh            # all receiver tests
#   e2e/remotewrite-compliance.sh -run TestExemplars
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

suite=${COMPLIANCE_DIR:-}
if [ -z "$suite" ]; then
  git clone -q --depth 1 https://github.com/prometheus/compliance "$work/compliance"
  suite="$work/compliance"
fi
suite="$suite/remotewrite/receiver"

go build -o "$work/watchdog" ./cmd/watchdog
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s' "$token" >"$work/token"
chmod 600 "$work/token"
printf 'global:\n  evaluation_interval: 15s\nstorage:\n  retention: 2h\n' >"$work/watchdog.yml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/watchdog" run --config "$work/watchdog.yml" --web.listen-address "127.0.0.1:$port" \
  --web.token-file "$work/token" --web.enable-remote-write-receiver >"$work/out.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done

cat >"$work/config.yml" <<EOF
remote_write:
  - name: watchdog
    url: http://127.0.0.1:$port/api/v1/write
    authorization:
      credentials: $token
EOF
cd "$suite"
PROMETHEUS_RW2_COMPLIANCE_CONFIG_FILE="$work/config.yml" go test -count=1 -v -timeout 5m "$@" . | tee "$work/result.txt"
status=${PIPESTATUS[0]}
echo "== $(grep -c -- '--- PASS' "$work/result.txt") passed, $(grep -c -- '--- FAIL' "$work/result.txt") failed"
exit "$status"
