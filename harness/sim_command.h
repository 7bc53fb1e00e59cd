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
  enum class Kind : uint8_t {
    publish,              // kubelet publishes `version` (valid)
    publish_corrupt,      // kubelet publishes content failing its checksum
    publish_throwing,     // kubelet publishes content the callback throws on
    publish_oversized,    // kubelet publishes a valid file larger than read_size_max
    publish_without_key,  // kubelet payload without the watched key: its symlink goes
    editor_save,          // write a temp file beside the watched path, rename it over
    in_place_write,       // truncate, `arg` chunks, close: partial content is visible
    make_unreadable,      // chmod 0000 the file the path resolves to
    make_readable,        // chmod 0644 it
    fs_error,             // the next `arg` calls of `call` fail with `error`
    remove_dir,           // rm -rf the watched directory
    recreate_dir,         // mkdir it and let the kubelet publish `version`
    dangle_data,          // ..data -> a directory that does not exist
    heal_dangling,        // create that directory with `version` in it
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

}  // namespace hotreload::harness
