// SimCommand: one step of a simulated run, as data.
//
// A run is a list of SimCommands: writers' actions, faults switched on, virtual time for
// the hub, and quiet periods where faults stop and convergence is checked. Being data,
// a failing list can be printed, shrunk (drop the commands that do not matter) and
// replayed exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "degradation_rows.h"
#include "sim_filesystem.h"

namespace hotreload::harness {

struct SimCommand {
  // Writers act as the world's layout has them: in a kubelet volume, a publish is the
  // kubelet's atomic writer; in a plain directory, an editor saving each key in turn.
  // `arg` of a publish picks optional keys: bit 0 extra.yaml, bit 1 rules/alerts.yaml (a
  // nested key, kubelet volumes only).
  enum class Kind : uint8_t {
    publish,              // publishes `version` (valid)
    publish_corrupt,      // kubelet publishes content failing its checksum
    publish_throwing,     // kubelet publishes content the callback throws on
    publish_oversized,    // kubelet publishes a valid file larger than read_size_max
    publish_without_key,  // a payload without the watched key: its symlink (or file) goes
    publish_bad_key,      // other.yaml of `version` is bad (arg 0 corrupt, 1 throwing,
                          // 2 oversized, 3 unreadable); app.yaml is fine
    publish_mid_snapshot, // during the next read of extra.yaml, `version` is published
    rename_ancestor,      // /vol.new/cfg is built with `version`, then `mv /vol /vol.old &&
                          // mv /vol.new /vol` (a /vol.old from before is removed first)
    editor_save,          // write a temp file beside the watched path, rename it over
    in_place_write,       // truncate, `arg` chunks, close: partial content is visible (in a
                          // kubelet volume, a writer that is not the kubelet edits the payload)
    make_unreadable,      // the watched key becomes unreadable (kubelet: published with
                          // mode 0000; plain: chmod 0000)
    make_readable,        // and readable again (mode 0644)
    fs_error,             // the next `arg` calls of `call` fail with `error`
    remove_dir,           // rm -rf the watched directory
    recreate_dir,         // mkdir it and let the kubelet publish `version`
    dangle_data,          // ..data -> a directory that does not exist
    heal_dangling,        // that directory appears (renamed into place) with `version` in it
    loop_key,             // the watched key becomes a symlink to itself
    restore_key,          // the watched key -> ..data/key again
    swap_mid_read,        // during the next read, the kubelet publishes `version`
    replace_mid_read,     // during the next read, the file is rewritten in place
    short_reads,          // read() returns at most `arg` bytes per call
    stale_attributes,     // stat answers from a cache up to `arg` ms old (NFS)
    lose_events,          // the next `arg` events are lost
    duplicate_events,     // `arg` per mille of events are delivered twice
    delay_events,         // events arrive `arg` ms late
    reorder_events,       // each batch is shuffled
    overflow_queue,       // the queue holds only `arg` events (IN_Q_OVERFLOW)
    watch_limit,          // add_watch fails with `error` (ENOSPC, EMFILE)
    companion_start,      // a second watcher on the same hub, on other.yaml (arg 1: via
                          // the ..data directory symlink; 2: on the watched file itself);
                          // it shares kernel watches with the first
    companion_stop,       // that watcher stops (detaches from the shared watches)
    run_hub,              // `arg` ms of virtual time pass with the hub running
    quiesce,              // faults stop, time passes, convergence is checked
    // Only in a world with a hung volume (WorldConfig::hung_volume). After quiesce, so the
    // fuzzer's byte-to-command mapping, and with it every regression seed, keeps its meaning.
    hang_volume,          // /vol's server stops answering: every call under /vol blocks
    release_volume,       // and answers again: the blocked calls return
    local_save,           // an editor saves `version` of /local/app.yaml (a local volume)
    // Not fuzzed either (after quiesce), for the same reason.
    relink_save,          // plain directory: `version` is written to .app.yaml.v<version>,
                          // and app.yaml, a symlink, re-pointed to it (a temporary link
                          // renamed over it, as `ln -sfn`); the versions before it stay
  };
  Kind kind = Kind::run_hub;
  int version = 0;
  int arg = 0;
  FsCall call = FsCall::any;
  int error = 0;           // an errno
  uint32_t interleave = 0; // bit i: the hub runs (without time passing) after writer op i

  friend bool operator==(const SimCommand&, const SimCommand&) = default;
};

std::string to_string(const SimCommand& c);
// The degradation row whose fault this command injects; none for writers and time.
std::optional<Row> fault_row(const SimCommand& c);
// Whether the command only arms a fault that may or may not take effect later (an error
// for the next calls, a change during the next read, events lost from now on): the world
// counts what took effect, not the command.
bool arms_a_fault(const SimCommand& c);

}  // namespace hotreload::harness
