#include "degradation_rows.h"

namespace hotreload::harness {

std::string_view row_name(Row row) {
  switch (row) {
    case Row::file_deleted: return "file_deleted";
    case Row::dir_deleted: return "dir_deleted";
    case Row::unreadable: return "unreadable";
    case Row::bad_symlink: return "bad_symlink";
    case Row::swap_mid_read: return "swap_mid_read";
    case Row::rejected: return "rejected";
    case Row::partial_write: return "partial_write";
    case Row::too_large: return "too_large";
    case Row::no_events: return "no_events";
    case Row::lost_events: return "lost_events";
    case Row::inotify_limits: return "inotify_limits";
    case Row::initial_load: return "initial_load";
    case Row::torn_publish: return "torn_publish";
    case Row::keys_added_removed: return "keys_added_removed";
    case Row::one_key_invalid: return "one_key_invalid";
    case Row::ancestor_renamed: return "ancestor_renamed";
    case Row::relinked_key: return "relinked_key";
    case Row::hung: return "hung";
    case Row::mixed: return "mixed";
  }
  return "?";
}

std::optional<Row> row_from_name(std::string_view name) {
  for (Row row : kAllRows)
    if (row_name(row) == name) return row;
  return std::nullopt;
}

}  // namespace hotreload::harness
