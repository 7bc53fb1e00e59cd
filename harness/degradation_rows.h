// The rows of the graceful-degradation table (DESIGN.md), as the harness names them.
//
// Every fault the harness injects belongs to one row, every property and mutant is named
// after one, and `hotreload harness` prints its verdict row by row.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hotreload::harness {

enum class Row : uint8_t {
  file_deleted,    // ConfigMap key / file deleted; reappears -> reload
  dir_deleted,     // directory deleted and recreated -> re-arm, reload
  unreadable,      // EACCES, EIO, ESTALE; readable again -> reload
  bad_symlink,     // dangling symlink, symlink loop; fixed -> reload
  swap_mid_read,   // symlink swapped / content replaced during a read: never mixed
  rejected,        // callback rejects / throws / content invalid: keep last
  partial_write,   // non-atomic writer: reject or wait for the close
  too_large,       // larger than read_size_max: refused
  no_events,       // the volume raises no events (NFS): polling finds changes
  lost_events,     // events lost, duplicated, delayed, reordered, queue overflow
  inotify_limits,  // add_watch fails (ENOSPC, EMFILE): fall back to polling
  initial_load,    // start() fails with a clear error
  // The volume as a whole (VolumeWatcher):
  torn_publish,        // a publish lands while a snapshot is read: never a mixed snapshot
  keys_added_removed,  // a publish adds and removes keys: the snapshot follows the key set
  one_key_invalid,     // one key refused, unreadable or too large: the whole snapshot stays
  ancestor_renamed,    // a directory above the volume renamed away and another renamed in:
                       // noticed through events, and the watch stays in events mode
  // The hub as a whole:
  hung,  // a remote volume's server stops answering: its calls block; the other watches
         // go on, the hung one reports stalled, and converges once the server is back
  // Faults together, as production has them:
  mixed,  // every row's faults but hung's, drawn and interleaved in one run, on a volume
          // that may also be silent, coarse-timestamped or out of inotify watches
  // Added after the rows above, so that their seeds keep their meaning:
  // a key that is a symlink re-pointed to another file, which stays (a deploy's
  // `current -> releases/N`): found by the next poll through its directory's stamps, or, on
  // a filesystem whose directories keep their stamps (some FUSE), by the next rehash
  relinked_key,
};

inline constexpr std::size_t kRowCount = 19;

inline constexpr std::array<Row, kRowCount> kAllRows = {
    Row::file_deleted,   Row::dir_deleted,        Row::unreadable,      Row::bad_symlink,
    Row::swap_mid_read,  Row::rejected,           Row::partial_write,   Row::too_large,
    Row::no_events,      Row::lost_events,        Row::inotify_limits,  Row::initial_load,
    Row::torn_publish,   Row::keys_added_removed, Row::one_key_invalid, Row::ancestor_renamed,
    Row::hung,           Row::mixed,              Row::relinked_key};

std::string_view row_name(Row row);
std::optional<Row> row_from_name(std::string_view name);

}  // namespace hotreload::harness
