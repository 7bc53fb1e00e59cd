#!/usr/bin/env bash
# The main job through the real CLI: a ConfigMap-style volume updated the way the kubelet
# updates it (kubelet_write), and `hotreload watch` validating every change (YAML syntax,
# then a rule of ours) and running an action only for accepted ones — including an
# invalid update that is refused while the last good config stays active, a key that
# vanishes and comes back, and a /metrics scrape. Ends with a clean SIGTERM stop.
#
#   examples/cli_demo.sh [BUILD_DIR]      (default build/release)
set -euo pipefail
build=${1:-build/release}
hotreload=$build/src/cli/hotreload
write=$build/examples/kubelet_write
for b in "$hotreload" "$write"; do
  [ -x "$b" ] || { echo "cli_demo: $b is not built (cmake --build $build --target hotreload_cli kubelet_write)" >&2; exit 2; }
done

volume=$(mktemp -d /tmp/hotreload-demo-XXXXXX)
log=$volume.log
watcher=""
cleanup() {
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null || true
  rm -rf "$volume" "$log" "$volume.actions"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
publish() { "$write" "$volume" "$@"; }
# Waits (bounded) until the log has N lines matching a pattern: no guessing with sleeps.
wait_for() {
  local pattern=$1 count=${2:-1}
  for _ in $(seq 1 200); do
    [ "$(grep -c -- "$pattern" "$log" 2>/dev/null || true)" -ge "$count" ] && return 0
    sleep 0.025
  done
  echo "cli_demo: gave up waiting for \"$pattern\" x$count" >&2
  exit 1
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

step "a ConfigMap volume, published the kubelet's way"
publish app.yaml='replicas: 1\nlog_level: info\n'
(cd "$volume" && ls -la --time-style=+ . | sed -n '2,$p' | awk '{$1=$2=$3=$4=$5=""; print "  " $0}')

step "hotreload watch --format yaml --validate-cmd … --exec … $volume/app.yaml"
"$hotreload" watch \
  --format yaml \
  --validate-cmd 'grep -Eq "^replicas: [1-9]" || { echo "replicas must be a positive number" >&2; exit 1; }' \
  --exec 'printf "  action: reloading the app, %s %.12s -> %.12s\n" "$(basename "$HOTRELOAD_PATH")" "$HOTRELOAD_PREVIOUS_HASH" "$HOTRELOAD_HASH" >> '"$volume.actions" \
  --metrics-listen "127.0.0.1:$port" \
  "$volume/app.yaml" >"$log" 2>&1 &
watcher=$!
tail -n +1 -f "$log" --pid="$watcher" 2>/dev/null | sed -u 's/^/  /' &
wait_for "event=loaded"

step "kubelet publishes replicas: 2"
publish app.yaml='replicas: 2\nlog_level: info\n'
wait_for "event=reloaded" 1

step "kubelet publishes replicas: 0 (refused by the validator; replicas: 2 stays)"
publish app.yaml='replicas: 0\nlog_level: info\n'
wait_for "event=rejected" 1

step "kubelet publishes broken YAML (refused by the syntax check)"
publish app.yaml='replicas: [3\n'
wait_for "event=rejected" 2

step "kubelet publishes replicas: 3"
publish app.yaml='replicas: 3\nlog_level: debug\n'
wait_for "event=reloaded" 2

step "the key is removed from the ConfigMap, then comes back"
publish other.yaml='x: 1\n'
wait_for "event=missing" 1
publish app.yaml='replicas: 4\nlog_level: info\n'
wait_for "event=reloaded" 3

step "actions run, one per accepted change"
for _ in $(seq 1 200); do [ -f "$volume.actions" ] && [ "$(wc -l <"$volume.actions")" -ge 3 ] && break; sleep 0.025; done
cat "$volume.actions"

step "curl http://127.0.0.1:$port/metrics (histogram buckets left out)"
curl -fsS "http://127.0.0.1:$port/metrics" | grep -v -e '^#' -e '_bucket' | sed 's/^/  /'

step "SIGTERM: a clean stop"
kill -TERM "$watcher"
status=0
wait "$watcher" || status=$?
watcher=""
sleep 0.05  # let tail print the last lines
echo "  hotreload exited with status $status"
[ "$status" -eq 0 ]
