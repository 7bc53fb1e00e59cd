#!/usr/bin/env bash
# The main job through the real CLI: a ConfigMap volume with two keys, updated the way the
# kubelet updates it (kubelet_write), and `hotreload watch --dir` taking each publish as
# one snapshot — syntax-checked key by key, then validated by a rule that reads both keys
# together — and running an action only for accepted snapshots: a publish that changes both
# keys together, one refused by the rule and one by the syntax check (the last good
# snapshot stays active), a key added, a /metrics scrape, and a clean SIGTERM stop.
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

step "a ConfigMap volume with two keys, published the kubelet's way"
publish app.yaml='replicas: 1\n' limits.yaml='max_replicas: 3\n'
(cd "$volume" && ls -la --time-style=+ . | sed -n '2,$p' | awk '{$1=$2=$3=$4=$5=""; print "  " $0}')

# The rule needs both keys: the validator reads them from HOTRELOAD_DIR, a private copy of
# the new snapshot (never the live volume, which the kubelet may change meanwhile).
rule='r=$(sed -n "s/^replicas: //p" "$HOTRELOAD_DIR/app.yaml")
m=$(sed -n "s/^max_replicas: //p" "$HOTRELOAD_DIR/limits.yaml")
[ "$r" -le "$m" ] 2>/dev/null || { echo "replicas ($r) must not exceed max_replicas ($m)" >&2; exit 1; }'

step "hotreload watch --dir $volume --validate-cmd … --exec …"
"$hotreload" watch \
  --dir "$volume" \
  --validate-cmd "$rule" \
  --exec '{ printf "  action: reloading the app, snapshot %.12s -> %.12s" "$HOTRELOAD_PREVIOUS_HASH" "$HOTRELOAD_HASH"
            for k in $HOTRELOAD_ADDED; do printf ", added %s" "$k"; done
            for k in $HOTRELOAD_CHANGED; do printf ", changed %s" "$k"; done
            for k in $HOTRELOAD_REMOVED; do printf ", removed %s" "$k"; done; echo; } >> '"$volume.actions" \
  --metrics-listen "127.0.0.1:$port" >"$log" 2>&1 &
watcher=$!
tail -n +1 -f "$log" --pid="$watcher" 2>/dev/null | sed -u 's/^/  /' &
wait_for "event=loaded"

step "kubelet publishes replicas: 5 with max_replicas: 8 (one publish: never one key without the other)"
publish app.yaml='replicas: 5\n' limits.yaml='max_replicas: 8\n'
wait_for "event=reloaded" 1

step "kubelet publishes replicas: 9 (refused by the rule; the last good snapshot stays)"
publish app.yaml='replicas: 9\n' limits.yaml='max_replicas: 8\n'
wait_for "event=rejected" 1

step "kubelet publishes broken YAML in limits.yaml (refused by the syntax check, which names the key)"
publish app.yaml='replicas: 5\n' limits.yaml='max_replicas: [8\n'
wait_for "event=rejected" 2

step "kubelet publishes a third key, flags.json"
publish app.yaml='replicas: 5\n' limits.yaml='max_replicas: 8\n' flags.json='{"dark_mode": true}\n'
wait_for "event=reloaded" 2

step "actions run, one per accepted snapshot"
for _ in $(seq 1 200); do [ -f "$volume.actions" ] && [ "$(wc -l <"$volume.actions")" -ge 2 ] && break; sleep 0.025; done
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
