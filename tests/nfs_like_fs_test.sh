#!/usr/bin/env bash
# nfs_like (harness/nfs_like_fs.cc), the NFS stand-in on FUSE, against real mounts: every
# behaviour it promises is checked as an assertion a broken daemon would fail.
#   a. passthrough both ways (writers in BACKING, as the server; or through the mount)
#   b. attributes cached for --attr-timeout; open revalidates them (close-to-open)
#   c. no inotify event on the mount for a change made in BACKING
#   d. stale: ESTALE on demand, and back
#   e. hang: calls block on demand, a caller's signal frees it, ok lets the rest go on
#   f. SIGTERM ends the daemon and its mount, even while hung
# Usage: nfs_like_fs_test.sh PATH_TO_nfs_like   (needs /dev/fuse; CI runs it as root)
set -euo pipefail

nfs_like=${1:?usage: nfs_like_fs_test.sh PATH_TO_nfs_like}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
check() { echo "check: $*"; }
pass() { echo "  ok${1:+: $1}"; }

[ -x "$nfs_like" ] ||
  fail "nfs_like was not built ('$nfs_like'): libfuse3-dev is missing? (ci/bootstrap installs it)"
[ -c /dev/fuse ] ||
  fail "/dev/fuse is missing: this test needs FUSE (a container: --device /dev/fuse, CAP_SYS_ADMIN)"
for tool in inotifywait fusermount3 mountpoint findmnt timeout; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed (ci/bootstrap installs inotify-tools, fuse3, util-linux)"
done

work=$(mktemp -d /tmp/nfs_like_fs_test.XXXXXX)
mounts=()     # every mount point mounted here
daemons=()    # pids of the daemons started in the foreground
controls=()   # every control file
background=() # pids of callers left blocked on purpose

cleanup() {
  local status=$? m p c
  set +e
  for c in "${controls[@]}"; do echo ok >"$c"; done  # hung calls go on
  for p in "${background[@]}"; do kill "$p" 2>/dev/null; done
  for m in "${mounts[@]}"; do
    # Not `mountpoint`: it cannot stat the mount of a daemon that died.
    grep -q " $m " /proc/mounts && { fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"; }
  done
  for p in "${daemons[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if grep -q " $work/" /proc/mounts; then
    echo "cleanup: still mounted, $work left in place:" >&2
    grep " $work/" /proc/mounts >&2
  else
    [ "$status" -eq 0 ] || { echo "--- daemon messages:"; cat "$work/daemons.log" 2>/dev/null; }
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds, or fail naming WHAT.
wait_for() {
  local deadline=$(($(now_ms) + $1 * 1000)) what=$2
  shift 2
  until "$@"; do
    (($(now_ms) < deadline)) || fail "timed out waiting for $what"
    sleep 0.02
  done
}
gone() { ! kill -0 "$1" 2>/dev/null; }
state_is() { [ "$(cat "$1.state" 2>/dev/null)" = "$2" ]; }
not_mounted() { ! mountpoint -q "$1"; }

# set_mode CONTROL MODE: replaced by rename (an echo could be read half-written), then
# waits until the daemon reports the mode in effect.
set_mode() {
  echo "$2" >"$1.new" && mv "$1.new" "$1"
  wait_for 5 "$1.state to say $2" state_is "$1" "$2"
}

# mount_foreground BACKING MOUNTPOINT OPTIONS...: sets $daemon to the daemon's pid.
mount_foreground() {
  local backing=$1 mnt=$2
  shift 2
  mkdir -p "$backing" "$mnt"
  "$nfs_like" --foreground "$@" "$backing" "$mnt" 2>>"$work/daemons.log" &
  daemon=$!
  daemons+=("$daemon")
  mounts+=("$mnt")
  local deadline=$(($(now_ms) + 5000))
  until mountpoint -q "$mnt"; do
    kill -0 "$daemon" 2>/dev/null || fail "nfs_like $* $backing $mnt exited: $(cat "$work/daemons.log")"
    (($(now_ms) < deadline)) || fail "nfs_like $* did not mount $mnt within 5 s"
    sleep 0.02
  done
}

# expect_content FILE TEXT
expect_content() {
  local got
  got=$(cat "$1") || fail "cannot read $1"
  [ "$got" = "$2" ] || fail "$1 reads '$got', expected '$2'"
}

# --- a. passthrough, on a daemonized mount with the defaults ----------------------------
b1=$work/b1 m1=$work/m1 c1=$work/c1.ctl
mkdir -p "$b1" "$m1"
controls+=("$c1")
head -c 65536 /dev/urandom >"$b1/blob"

check "nfs_like returns once the mount is ready, and it reads as fuse.nfs_like"
mounts+=("$m1")
"$nfs_like" --control "$c1" "$b1" "$m1" 2>>"$work/daemons.log" || fail "nfs_like exited $?"
cmp -s "$b1/blob" "$m1/blob" || fail "$m1/blob differs from $b1/blob right after mounting"
type=$(findmnt -n -o FSTYPE,SOURCE "$m1")
[[ $type =~ ^fuse\.nfs_like\ +nfs_like$ ]] || fail "findmnt says '$type', expected 'fuse.nfs_like nfs_like'"
wait_for 5 "$c1.state to say ok" state_is "$c1" ok
pass "$type, state ok"

check "a file written in BACKING reads back identically through the mount"
head -c 200000 /dev/urandom >"$b1/later"
cmp "$b1/later" "$m1/later" || fail "content differs through the mount"
pass

check "a file written through the mount appears in BACKING (create, write, fsync, readdir)"
head -c 100000 /dev/urandom >"$work/source"
cp "$work/source" "$m1/written"
sync "$m1/written"
cmp "$work/source" "$b1/written" || fail "$b1/written differs from what was written"
names=$(ls -A "$m1")  # readdir
grep -qx written <<<"$names" || fail "ls $m1 does not list 'written': $names"
pass

check "the ConfigMap chain key -> ..data/key, ..data -> ..ts1 (made in BACKING) resolves"
mkdir "$b1/..ts1"
echo key-v1 >"$b1/..ts1/key"
ln -s ..ts1 "$b1/..data"
ln -s ..data/key "$b1/key"
[ "$(readlink "$m1/key")" = ..data/key ] || fail "readlink $m1/key: $(readlink "$m1/key")"
[ "$(readlink "$m1/..data")" = ..ts1 ] || fail "readlink $m1/..data: $(readlink "$m1/..data")"
expect_content "$m1/key" key-v1
pass

check "a kubelet publish through the mount (mkdir, symlink, rename onto ..data) lands in BACKING"
mkdir "$m1/..ts2"
echo key-v2 >"$m1/..ts2/key"
ln -s ..ts2 "$m1/..data_tmp"
mv -T "$m1/..data_tmp" "$m1/..data"
expect_content "$m1/key" key-v2
[ "$(readlink "$b1/..data")" = ..ts2 ] || fail "readlink $b1/..data: $(readlink "$b1/..data")"
[ ! -e "$b1/..data_tmp" ] || fail "$b1/..data_tmp is still there"
pass

check "rename over an existing file through the mount"
printf old >"$m1/conf"
printf new >"$m1/conf.tmp"
mv -f "$m1/conf.tmp" "$m1/conf"
expect_content "$m1/conf" new
expect_content "$b1/conf" new
[ ! -e "$b1/conf.tmp" ] || fail "$b1/conf.tmp is still there"
pass

check "truncate, chmod, utimens, unlink, mkdir, rmdir through the mount reach BACKING"
truncate -s 2 "$m1/conf"
[ "$(stat -c %s "$b1/conf")" = 2 ] || fail "size in BACKING: $(stat -c %s "$b1/conf")"
chmod 604 "$m1/conf"
[ "$(stat -c %a "$b1/conf")" = 604 ] || fail "mode in BACKING: $(stat -c %a "$b1/conf")"
touch -m -d @1000000000 "$m1/conf"
[ "$(stat -c %Y "$b1/conf")" = 1000000000 ] || fail "mtime in BACKING: $(stat -c %Y "$b1/conf")"
rm "$m1/conf"
[ ! -e "$b1/conf" ] || fail "$b1/conf is still there"
mkdir "$m1/dir"
[ -d "$b1/dir" ] || fail "$b1/dir was not made"
rmdir "$m1/dir"
[ ! -e "$b1/dir" ] || fail "$b1/dir is still there"
pass

# --- c. no events (same mount) -----------------------------------------------------------
# watch_mount EVENTS_FILE: inotifywait on $m1 for 1 s, in the background ($watcher), once
# its watch is in place.
watch_mount() {
  inotifywait -t 1 -e create,modify,close_write,moved_to,attrib,delete "$m1" >"$1" 2>"$1.err" &
  watcher=$!
  wait_for 5 "inotifywait to set its watch" grep -q "Watches established" "$1.err"
}

check "a change made in BACKING sends no inotify event on the mount within 1 s"
watch_mount "$work/events.backing"
echo "from the server" >"$b1/quiet"
echo more >>"$b1/later"
rc=0
wait "$watcher" || rc=$?
[ "$rc" -eq 2 ] || fail "inotifywait exited $rc (2 is: no event), it saw: $(cat "$work/events.backing")"
expect_content "$m1/quiet" "from the server"
pass "no event, and the new file reads through the mount"

check "control: a change made through the mount does send an event (the silence is the volume's)"
watch_mount "$work/events.mount"
echo "from this client" >"$m1/loud"
rc=0
wait "$watcher" || rc=$?
[ "$rc" -eq 0 ] || fail "inotifywait exited $rc, expected an event: $(cat "$work/events.mount.err")"
grep -q loud "$work/events.mount" || fail "the event is not about 'loud': $(cat "$work/events.mount")"
pass "$(cat "$work/events.mount")"

# --- d. stale (same mount) ---------------------------------------------------------------
check "stale: reads fail with 'Stale file handle'; statfs and the root still answer"
set_mode "$c1" stale
if cat "$m1/blob" >/dev/null 2>"$work/stale.err"; then fail "cat $m1/blob succeeded while stale"; fi
grep -q "Stale file handle" "$work/stale.err" || fail "cat said: $(cat "$work/stale.err")"
stat -f "$m1" >/dev/null || fail "statfs failed while stale"
stat "$m1" >/dev/null || fail "stat of the root failed while stale"
pass "$(cat "$work/stale.err")"

check "back to ok: reads work again"
set_mode "$c1" ok
cmp "$b1/blob" "$m1/blob" || fail "$m1/blob differs after stale"
pass

check "a handle whose file was replaced in BACKING reads ESTALE, as on NFS; a new open reads the new file"
printf 'old\n' > "$b1/handle"
exec 3<"$m1/handle"
printf 'new\n' > "$b1/handle.tmp" && mv "$b1/handle.tmp" "$b1/handle"
if cat <&3 >/dev/null 2>"$work/handle.err"; then fail "the replaced file's handle still read"; fi
exec 3<&-
grep -q "Stale file handle" "$work/handle.err" || fail "cat said: $(cat "$work/handle.err")"
[ "$(cat "$m1/handle")" = new ] || fail "a new open read '$(cat "$m1/handle")', not 'new'"
pass "$(cat "$work/handle.err")"

# --- b. attribute cache ------------------------------------------------------------------
b2=$work/b2 m2=$work/m2
mount_foreground "$b2" "$m2" --attr-timeout 2
daemon2=$daemon

check "--attr-timeout 2: a size changed in BACKING shows old within 0.5 s, new after 2.5 s"
# The first stat starts the kernel's 2 s; a machine too loaded to stat twice within 0.5 s
# proves nothing either way: try again, with a new name (not yet cached).
for attempt in 1 2 3 4 5; do
  f=size$attempt
  printf '%010d' 0 >"$b2/$f"
  t0=$(now_ms)
  before=$(stat -c %s "$m2/$f")
  printf '%020d' 0 >"$b2/$f"
  soon=$(stat -c %s "$m2/$f")
  t1=$(now_ms)
  [ "$before" = 10 ] || fail "first stat says $before bytes, expected 10"
  ((t1 - t0 <= 500)) && break
  echo "  (attempt $attempt took $((t1 - t0)) ms, again)"
  ((attempt < 5)) || fail "5 attempts all took more than 0.5 s: machine too loaded"
done
[ "$soon" = 10 ] ||
  fail "$((t1 - t0)) ms after the first stat the mount shows $soon bytes: no attribute cache"
sleep "$(printf '0.%03d' $((500 - (t1 - t0))))"
sleep 2
late=$(stat -c %s "$m2/$f")
[ "$late" = 20 ] || fail "2.5 s later the mount still shows $late bytes (expected 20)"
pass "10 bytes after $((t1 - t0)) ms, 20 after 2.5 s"

check "--attr-timeout 2: open revalidates (close-to-open): the whole new content reads at once"
printf '%010d' 0 >"$b2/cto"
[ "$(stat -c %s "$m2/cto")" = 10 ] || fail "first stat of cto"
printf '%030d' 7 >"$b2/cto"
expect_content "$m2/cto" "$(printf '%030d' 7)"
size=$(stat -c %s "$m2/cto")
[ "$size" = 30 ] || fail "after an open the mount still shows $size bytes"
pass

b3=$work/b3 m3=$work/m3 c3=$work/c3.ctl
controls+=("$c3")
mount_foreground "$b3" "$m3" --attr-timeout 0 --control "$c3"
daemon3=$daemon
wait_for 5 "$c3.state to say ok" state_is "$c3" ok

check "--attr-timeout 0: the new size shows at once"
printf '%010d' 0 >"$b3/zero"
[ "$(stat -c %s "$m3/zero")" = 10 ] || fail "first stat of zero"
printf '%020d' 0 >"$b3/zero"
now=$(stat -c %s "$m3/zero")
[ "$now" = 20 ] || fail "the mount still shows $now bytes"
pass

# --- e. hang -----------------------------------------------------------------------------
check "hang: 'timeout 2 stat' is blocked and ends with 124"
printf 'hello' >"$b3/h"
stat "$m3/h" >/dev/null
set_mode "$c3" hang
(
  rc=0
  timeout 2 stat "$m3/h" >/dev/null 2>&1 || rc=$?
  echo "$rc" >"$work/timeout.rc"
) &
background+=($!)
wait_for 8 "'timeout 2 stat' to return (the daemon ignores the kernel's INTERRUPT?)" \
  test -s "$work/timeout.rc"
rc=$(cat "$work/timeout.rc")
[ "$rc" = 124 ] || fail "'timeout 2 stat' exited $rc, expected 124"
pass

check "hang: a stat started while hung waits, and completes once the mode is ok"
stat -c %s "$m3/h" >"$work/waiter.out" 2>"$work/waiter.err" &
waiter=$!
background+=("$waiter")
sleep 0.5
kill -0 "$waiter" 2>/dev/null ||
  fail "stat returned while hung: $(cat "$work/waiter.out" "$work/waiter.err")"
set_mode "$c3" ok
wait_for 5 "the waiting stat to complete after ok" gone "$waiter"
wait "$waiter" || fail "the waiting stat failed: $(cat "$work/waiter.err")"
[ "$(cat "$work/waiter.out")" = 5 ] || fail "the waiting stat says $(cat "$work/waiter.out") bytes"
pass

# --- f. SIGTERM --------------------------------------------------------------------------
check "SIGTERM ends the daemon and unmounts"
kill -TERM "$daemon2"
wait_for 5 "the daemon to end after SIGTERM" gone "$daemon2"
rc=0
wait "$daemon2" || rc=$?
[ "$rc" -eq 0 ] || fail "nfs_like exited $rc after SIGTERM"
not_mounted "$m2" || fail "$m2 is still a mount point"
pass

check "SIGTERM while hung, a caller blocked: the daemon ends, unmounts, and frees the caller"
set_mode "$c3" hang
stat "$m3/h" >/dev/null 2>&1 &
blocked=$!
background+=("$blocked")
sleep 0.3
kill -0 "$blocked" 2>/dev/null || fail "stat returned while hung"
kill -TERM "$daemon3"
wait_for 5 "the hung daemon to end after SIGTERM" gone "$daemon3"
not_mounted "$m3" || fail "$m3 is still a mount point"
wait_for 5 "the blocked caller to be freed" gone "$blocked"
[ ! -e "$c3.state" ] || fail "$c3.state outlived its daemon"
pass

check "fusermount3 -u unmounts the daemonized mount"
fusermount3 -u "$m1"
not_mounted "$m1" || fail "$m1 is still a mount point"
pass

echo "nfs_like_fs: all checks passed"
