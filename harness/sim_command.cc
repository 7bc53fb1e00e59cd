#include "sim_command.h"

#include <cerrno>
#include <cstring>

namespace hotreload::harness {

namespace {

std::string errno_name(int e) {
  switch (e) {
    case EACCES: return "EACCES";
    case EIO: return "EIO";
    case ESTALE: return "ESTALE";
    case ELOOP: return "ELOOP";
    case ENOENT: return "ENOENT";
    case ENOSPC: return "ENOSPC";
    case EMFILE: return "EMFILE";
    default: return "errno" + std::to_string(e);
  }
}

std::string with_keys(std::string text, int keyset) {
  if (keyset & 1) text += " +extra.yaml";
  if (keyset & 2) text += " +rules/alerts.yaml";
  return text;
}

std::string with_interleave(std::string text, uint32_t interleave) {
  if (interleave == 0) return text;
  text += " [hub after ops";
  for (int i = 0; i < 32; ++i)
    if (interleave & (1u << i)) text += " " + std::to_string(i);
  return text + "]";
}

}  // namespace

std::string to_string(const SimCommand& c) {
  using K = SimCommand::Kind;
  std::string v = std::to_string(c.version);
  std::string a = std::to_string(c.arg);
  switch (c.kind) {
    case K::publish: return with_interleave(with_keys("publish v" + v, c.arg), c.interleave);
    case K::publish_corrupt: return with_interleave("publish_corrupt v" + v, c.interleave);
    case K::publish_throwing: return with_interleave("publish_throwing v" + v, c.interleave);
    case K::publish_oversized: {
      static constexpr const char* kSize[] = {"", " (exactly the limit)", " (the limit + 1 byte)"};
      return with_interleave("publish_oversized v" + v + kSize[static_cast<std::size_t>(c.arg) % 3],
                             c.interleave);
    }
    case K::publish_without_key: return with_interleave("publish_without_key", c.interleave);
    case K::publish_bad_key: {
      static const char* bad[] = {"corrupt", "throwing", "oversized", "unreadable"};
      return with_interleave("publish v" + v + " with other.yaml " + bad[c.arg & 3], c.interleave);
    }
    case K::publish_mid_snapshot: return "during next read of extra.yaml: publish v" + v;
    case K::rename_ancestor: return "mv /vol /vol.old && mv /vol.new /vol (with v" + v + ")";
    case K::editor_save: return with_interleave("editor_save v" + v, c.interleave);
    case K::in_place_write:
      return with_interleave("in_place_write v" + v + " in " + a + " chunks", c.interleave);
    case K::make_unreadable: return "watched key unreadable (mode 0000)";
    case K::make_readable: return "watched key readable (mode 0644)";
    case K::fs_error:
      return "fault " + to_string(c.call) + " -> " + errno_name(c.error) + " x" + a;
    case K::remove_dir: return "rm -rf watched dir";
    case K::recreate_dir: return with_interleave("recreate dir with v" + v, c.interleave);
    case K::dangle_data: return "..data -> ..missing (dangling)";
    case K::heal_dangling: return "..missing appears with v" + v;
    case K::loop_key: return "key -> key (symlink loop)";
    case K::restore_key: return "key -> ..data/key";
    case K::swap_mid_read: return "during next read: kubelet publishes v" + v;
    case K::replace_mid_read: return "during next read: rewritten in place with v" + v;
    case K::short_reads: return "reads return at most " + a + " B";
    case K::stale_attributes: return "stat cached for " + a + " ms";
    case K::lose_events: return "lose next " + a + " events";
    case K::duplicate_events: return "duplicate " + a + "/1000 events";
    case K::delay_events: return "delay events " + a + " ms";
    case K::reorder_events: return "reorder event batches";
    case K::overflow_queue: return "event queue max " + a;
    case K::watch_limit: return "add_watch -> " + errno_name(c.error);
    case K::companion_start:
      return std::string("second watcher starts on ") +
             (c.arg == 1   ? "/vol/cfg/..data/other.yaml"
              : c.arg == 2 ? "/vol/cfg/app.yaml (watched twice)"
                           : "/vol/cfg/other.yaml");
    case K::companion_stop: return "second watcher stops";
    case K::hang_volume: return "/vol stops answering (calls block)";
    case K::release_volume: return "/vol answers again";
    case K::local_save: return "editor_save v" + v + " of /local/app.yaml";
    case K::relink_save: return with_interleave("relink app.yaml -> .app.yaml.v" + v, c.interleave);
    case K::run_hub: return "hub runs " + a + " ms";
    case K::quiesce: return "quiesce (faults stop; convergence checked)";
  }
  return "?";
}

std::optional<Row> fault_row(const SimCommand& c) {
  using K = SimCommand::Kind;
  switch (c.kind) {
    case K::publish_without_key: return Row::file_deleted;
    case K::publish:
      if (c.arg != 0) return Row::keys_added_removed;
      return std::nullopt;
    case K::publish_bad_key: return Row::one_key_invalid;
    case K::publish_mid_snapshot: return Row::torn_publish;
    case K::rename_ancestor: return Row::ancestor_renamed;
    case K::remove_dir: return Row::dir_deleted;
    case K::fs_error:
      // The errno decides which row the injected failure stands for.
      if (c.error == ENOENT) return Row::file_deleted;
      if (c.error == ELOOP) return Row::bad_symlink;
      return Row::unreadable;
    case K::make_unreadable: return Row::unreadable;
    case K::dangle_data:
    case K::loop_key: return Row::bad_symlink;
    case K::swap_mid_read:
    case K::replace_mid_read:
    case K::short_reads: return Row::swap_mid_read;
    case K::publish_corrupt:
    case K::publish_throwing: return Row::rejected;
    case K::in_place_write: return Row::partial_write;
    case K::publish_oversized: return Row::too_large;
    case K::stale_attributes: return Row::no_events;
    case K::lose_events:
    case K::duplicate_events:
    case K::delay_events:
    case K::reorder_events:
    case K::overflow_queue: return Row::lost_events;
    case K::watch_limit: return Row::inotify_limits;
    case K::hang_volume: return Row::hung;
    case K::relink_save: return Row::relinked_key;
    default: return std::nullopt;
  }
}

bool arms_a_fault(const SimCommand& c) {
  using K = SimCommand::Kind;
  switch (c.kind) {
    case K::fs_error: case K::swap_mid_read: case K::replace_mid_read:
    case K::publish_mid_snapshot: case K::stale_attributes: case K::lose_events:
    case K::duplicate_events: case K::delay_events: case K::reorder_events:
    case K::overflow_queue: case K::watch_limit:
      return true;
    default: return false;
  }
}

}  // namespace hotreload::harness
