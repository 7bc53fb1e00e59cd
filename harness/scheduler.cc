#include "scheduler.h"

#include <random>

namespace hotreload::harness {

namespace {

using namespace std::chrono_literals;
using K = SimCommand::Kind;

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A weighted menu of command makers, drawn from with the run's generator.
class Menu {
 public:
  using Make = SimCommand (*)(std::mt19937_64&, int version);
  void add(unsigned weight, Make make) {
    entries_.push_back({weight, make});
    total_ += weight;
  }
  SimCommand draw(std::mt19937_64& rng, int version) const {
    uint64_t pick = rng() % total_;
    for (const auto& [weight, make] : entries_) {
      if (pick < weight) return make(rng, version);
      pick -= weight;
    }
    return entries_.back().second(rng, version);
  }

 private:
  std::vector<std::pair<unsigned, Make>> entries_;
  uint64_t total_ = 0;
};

int pick(std::mt19937_64& rng, std::initializer_list<int> values) {
  return *(values.begin() + static_cast<std::ptrdiff_t>(rng() % values.size()));
}

// Sparse: the hub now and then runs between two writer ops.
uint32_t interleave(std::mt19937_64& rng) {
  return static_cast<uint32_t>(rng() & rng() & rng());
}

SimCommand writer(K kind, std::mt19937_64& rng, int version) {
  return {.kind = kind, .version = version, .interleave = interleave(rng)};
}

void add_common(Menu& m) {
  m.add(5, [](std::mt19937_64& r, int v) { return writer(K::publish, r, v); });
  m.add(1, [](std::mt19937_64& r, int v) { return writer(K::editor_save, r, v); });
  m.add(1, [](std::mt19937_64&, int) { return SimCommand{.kind = K::restore_key}; });
  m.add(5, [](std::mt19937_64& r, int) {
    return SimCommand{.kind = K::run_hub, .arg = pick(r, {0, 0, 5, 30, 300, 1500, 12000})};
  });
  m.add(1, [](std::mt19937_64&, int) { return SimCommand{.kind = K::quiesce}; });
  m.add(1, [](std::mt19937_64& r, int) {
    return SimCommand{.kind = K::companion_start, .arg = static_cast<int>(r() % 3)};
  });
  m.add(1, [](std::mt19937_64&, int) { return SimCommand{.kind = K::companion_stop}; });
}

SimCommand fs_error(std::mt19937_64& r, int) {
  static constexpr FsCall calls[] = {FsCall::lstat, FsCall::readlink, FsCall::open,
                                     FsCall::fstat, FsCall::read, FsCall::list};
  return {.kind = K::fs_error, .arg = pick(r, {1, 2, 5, 50}), .call = calls[r() % 6],
          .error = pick(r, {EACCES, EIO, ESTALE})};
}

void add_row(Menu& m, Row row, Layout layout) {
  switch (row) {
    case Row::file_deleted:
      m.add(4, [](std::mt19937_64& r, int v) { return writer(K::publish_without_key, r, v); });
      m.add(1, [](std::mt19937_64& r, int) {
        return SimCommand{.kind = K::fs_error, .arg = pick(r, {1, 3, 50}),
                          .call = r() % 2 ? FsCall::lstat : FsCall::open, .error = ENOENT};
      });
      break;
    case Row::dir_deleted:
      m.add(3, [](std::mt19937_64&, int) { return SimCommand{.kind = K::remove_dir}; });
      m.add(4, [](std::mt19937_64& r, int v) { return writer(K::recreate_dir, r, v); });
      break;
    case Row::unreadable:
      m.add(3, [](std::mt19937_64&, int) { return SimCommand{.kind = K::make_unreadable}; });
      m.add(3, [](std::mt19937_64&, int) { return SimCommand{.kind = K::make_readable}; });
      m.add(3, fs_error);
      break;
    case Row::bad_symlink:
      m.add(2, [](std::mt19937_64&, int) { return SimCommand{.kind = K::dangle_data}; });
      m.add(2, [](std::mt19937_64&, int v) {
        return SimCommand{.kind = K::heal_dangling, .version = v};
      });
      m.add(2, [](std::mt19937_64&, int) { return SimCommand{.kind = K::loop_key}; });
      m.add(2, [](std::mt19937_64&, int) { return SimCommand{.kind = K::restore_key}; });
      m.add(1, [](std::mt19937_64& r, int) {
        return SimCommand{.kind = K::fs_error, .arg = pick(r, {1, 3}), .call = FsCall::open,
                          .error = ELOOP};
      });
      break;
    case Row::swap_mid_read:
      m.add(3, [](std::mt19937_64&, int v) {
        return SimCommand{.kind = K::swap_mid_read, .version = v};
      });
      m.add(3, [](std::mt19937_64&, int v) {
        return SimCommand{.kind = K::replace_mid_read, .version = v};
      });
      m.add(1, [](std::mt19937_64& r, int) {
        return SimCommand{.kind = K::short_reads, .arg = pick(r, {1, 7, 100})};
      });
      break;
    case Row::rejected:
      m.add(3, [](std::mt19937_64& r, int v) { return writer(K::publish_corrupt, r, v); });
      m.add(2, [](std::mt19937_64& r, int v) { return writer(K::publish_throwing, r, v); });
      break;
    case Row::partial_write:
      m.add(5, [](std::mt19937_64& r, int v) {
        SimCommand c = writer(K::in_place_write, r, v);
        c.arg = pick(r, {1, 2, 3, 4});
        return c;
      });
      break;
    case Row::too_large:
      m.add(3, [](std::mt19937_64& r, int v) { return writer(K::publish_oversized, r, v); });
      m.add(2, [](std::mt19937_64& r, int v) {  // at the limit's edge
        SimCommand c = writer(K::publish_oversized, r, v);
        c.arg = 1 + static_cast<int>(r() % 2);
        return c;
      });
      break;
    case Row::no_events:
      m.add(2, [](std::mt19937_64& r, int) {
        return SimCommand{.kind = K::stale_attributes, .arg = pick(r, {100, 1000, 3000})};
      });
      m.add(2, [](std::mt19937_64& r, int v) {
        SimCommand c = writer(K::in_place_write, r, v);
        c.arg = pick(r, {1, 2});
        return c;
      });
      break;
    case Row::lost_events:
      m.add(3, [](std::mt19937_64& r, int) {
        return SimCommand{.kind = K::lose_events, .arg = pick(r, {1, 2, 5, 20})};
      });
      m.add(1, [](std::mt19937_64& r, int) {
        return SimCommand{.kind = K::duplicate_events, .arg = pick(r, {200, 1000})};
      });
      m.add(1, [](std::mt19937_64& r, int) {
        return SimCommand{.kind = K::delay_events, .arg = pick(r, {1, 50, 2000})};
      });
      m.add(1, [](std::mt19937_64&, int) { return SimCommand{.kind = K::reorder_events}; });
      m.add(2, [](std::mt19937_64& r, int) {
        return SimCommand{.kind = K::overflow_queue, .arg = pick(r, {1, 2, 4})};
      });
      break;
    case Row::inotify_limits:
      m.add(2, [](std::mt19937_64& r, int) {
        return SimCommand{.kind = K::watch_limit, .error = pick(r, {ENOSPC, EMFILE})};
      });
      m.add(1, [](std::mt19937_64&, int) { return SimCommand{.kind = K::remove_dir}; });
      m.add(2, [](std::mt19937_64& r, int v) { return writer(K::recreate_dir, r, v); });
      break;
    case Row::initial_load: break;
    case Row::torn_publish:
      m.add(4, [](std::mt19937_64&, int v) {
        return SimCommand{.kind = K::publish_mid_snapshot, .version = v};
      });
      m.add(2, [](std::mt19937_64& r, int v) {  // extra.yaml present, for the next one to find
        SimCommand c = writer(K::publish, r, v);
        c.arg = 1 | static_cast<int>(r() % 2) * 2;
        return c;
      });
      break;
    case Row::keys_added_removed:
      m.add(6, [](std::mt19937_64& r, int v) {
        SimCommand c = writer(K::publish, r, v);
        c.arg = static_cast<int>(r() % 4);
        return c;
      });
      m.add(1, [](std::mt19937_64& r, int v) { return writer(K::publish_without_key, r, v); });
      break;
    case Row::one_key_invalid:
      m.add(5, [](std::mt19937_64& r, int v) {
        SimCommand c = writer(K::publish_bad_key, r, v);
        c.arg = static_cast<int>(r() % 4);
        return c;
      });
      break;
    case Row::ancestor_renamed:
      m.add(4, [](std::mt19937_64&, int v) {
        return SimCommand{.kind = K::rename_ancestor, .version = v};
      });
      break;
    case Row::relinked_key:
      m.add(4, [](std::mt19937_64& r, int v) { return writer(K::relink_save, r, v); });
      m.add(1, [](std::mt19937_64& r, int) {  // a link that cannot be resolved for a while
        return SimCommand{.kind = K::fs_error, .arg = pick(r, {1, 3, 5}),
                          .call = r() % 2 ? FsCall::readlink : FsCall::lstat,
                          .error = pick(r, {EACCES, EIO})};
      });
      break;
    case Row::hung:
      m.add(3, [](std::mt19937_64&, int) { return SimCommand{.kind = K::hang_volume}; });
      m.add(3, [](std::mt19937_64&, int) { return SimCommand{.kind = K::release_volume}; });
      m.add(4, [](std::mt19937_64& r, int v) { return writer(K::local_save, r, v); });
      break;
    case Row::mixed:
      // Every other row's faults, those of rows bound to the other layout excepted (a
      // dangling ..data means nothing in a plain directory). Not hung's: a hung volume's
      // run has a world of its own (a local watch beside it, a runner in lockstep). Not
      // those of rows added after mixed: its seeds, and what they find, keep their meaning.
      for (Row other : kAllRows) {
        if (other == Row::mixed || other == Row::hung || other == Row::initial_load) continue;
        if (other > Row::mixed) continue;
        bool bound = layout_for(other, 0) == layout_for(other, 1);
        if (!bound || layout_for(other, 0) == layout) add_row(m, other, layout);
      }
      break;
  }
}

bool makes_content(K kind) {
  switch (kind) {
    case K::publish: case K::publish_corrupt: case K::publish_throwing:
    case K::publish_oversized: case K::editor_save: case K::in_place_write:
    case K::recreate_dir: case K::heal_dangling: case K::swap_mid_read:
    case K::replace_mid_read: case K::publish_bad_key: case K::publish_mid_snapshot:
    case K::rename_ancestor: case K::local_save: case K::relink_save:
      return true;
    default: return false;
  }
}

}  // namespace

Layout layout_for(Row row, uint64_t draw) {
  switch (row) {
    // The links ..data and key -> ..data/key, and publishes as one: the kubelet's.
    case Row::bad_symlink:
    case Row::torn_publish: return Layout::kubelet;
    // Writes in place, and chmod: what editors and tools do to plain files. A deploy's
    // symlink switch beside the versions it keeps.
    case Row::partial_write:
    case Row::relinked_key: return Layout::plain;
    default: return draw % 2 ? Layout::plain : Layout::kubelet;
  }
}

bool is_volume_row(Row row) {
  return row == Row::torn_publish || row == Row::keys_added_removed ||
         row == Row::one_key_invalid || row == Row::ancestor_renamed;
}

// A VolumeWatcher shares its volume's checks with the key's FileWatcher, so an event for
// either checks both: the rows about the key alone run without it half the time, or a
// key's own event handling would go untested.
bool watches_volume(Row row, uint64_t draw) { return is_volume_row(row) || draw % 2 == 0; }

// Where the directories above the volume cannot be watched, the kernel watch on the volume
// itself must carry everything (its own removal and re-creation, say).
bool ancestors_unwatchable_for(Row row, uint64_t draw) {
  return row != Row::ancestor_renamed && draw % 3 == 0;
}

// A seed names its row in a fixed number of slots, more than there are rows: a row added
// later leaves every other row's seeds (and what a mutant's campaign finds first) as they
// were. A seed from elsewhere whose slot names no row wraps around.
constexpr uint64_t kSeedSlots = 32;
static_assert(kRowCount <= kSeedSlots);

Row row_of_seed(uint64_t seed) { return kAllRows[seed % kSeedSlots % kRowCount]; }

uint64_t run_seed(uint64_t campaign_seed, uint64_t run_index, Row row) {
  uint64_t base = splitmix64(campaign_seed * 0x100000001b3ull + run_index) / kSeedSlots;
  return base * kSeedSlots + static_cast<uint64_t>(row);
}

RunPlan plan_run(uint64_t seed, std::size_t commands) {
  std::mt19937_64 rng(splitmix64(seed));
  RunPlan plan;
  plan.seed = seed;
  plan.row = row_of_seed(seed);
  WorldConfig& c = plan.config;
  c.seed = seed;
  c.granularity = std::chrono::nanoseconds(pick(rng, {1, 1, 1000000000, 2000000000}));
  bool mixed = plan.row == Row::mixed;
  c.silent_volume = plan.row == Row::no_events || (mixed && rng() % 4 == 0);
  c.hung_volume = plan.row == Row::hung;
  // Half the relinked_key runs on directories that do not stamp their changes; a relink
  // is announced by events, so those runs are mostly silent or polled.
  if (plan.row == Row::relinked_key) {
    c.frozen_dir_stamps = rng() % 2 == 0;
    c.silent_volume = rng() % 2 == 0;
  }
  if ((plan.row == Row::inotify_limits && rng() % 2 == 0) || (mixed && rng() % 4 == 0))
    c.watch_limit_errno = pick(rng, {ENOSPC, EMFILE});
  if (plan.row == Row::initial_load)
    c.initial = static_cast<InitialState>(rng() % kInitialStateCount);
  c.layout = layout_for(plan.row, rng());
  c.watch_volume = watches_volume(plan.row, rng());
  c.ancestors_unwatchable = ancestors_unwatchable_for(plan.row, rng());
  // Most runs use the defaults; some force a mode or shrink the intervals, so that retry
  // delays, polls and safety polls meet in other orders. The rows about auto's choice
  // keep automatic.
  if (plan.row != Row::no_events && plan.row != Row::inotify_limits && plan.row != Row::hung) {
    uint64_t m = rng() % 8;
    c.mode = m == 0 ? Mode::events : m == 1 ? Mode::poll : Mode::automatic;
  }
  if (rng() % 4 == 0) {
    c.poll_interval = std::chrono::milliseconds(pick(rng, {10, 50, 250}));
    c.safety_interval = c.poll_interval * pick(rng, {2, 10});
    c.rehash_every = static_cast<unsigned>(pick(rng, {1, 3, 10}));
    // From a stream of its own: the plan's draws, and so every seed's run, stay as they were.
    std::mt19937_64 own(splitmix64(seed ^ 0x5afe7e5ea5ull));
    c.safety_rehash_every = static_cast<unsigned>(pick(own, {1, 3, 10, 30}));
  }

  Menu menu;
  add_common(menu);
  add_row(menu, plan.row, c.layout);
  int version = 1;
  for (std::size_t i = 0; i + 1 < commands; ++i) {
    // Now and then a writer puts back an older version: the disk reverts.
    int v = rng() % 10 == 0 && version > 2 ? 2 + static_cast<int>(rng() % (version - 2)) : version + 1;
    SimCommand cmd = menu.draw(rng, v);
    if (makes_content(cmd.kind) && v > version) version = v;
    plan.commands.push_back(cmd);
  }
  plan.commands.push_back({.kind = K::quiesce});
  return plan;
}

RunOutcome execute(const WorldConfig& config, const std::vector<SimCommand>& commands,
                   bool keep_trace) {
  RunOutcome out;
  SimWorld world(config);
  world.keep_trace(keep_trace);
  out.violation = world.start();
  for (const SimCommand& c : commands) {
    if (out.violation) break;
    ++out.commands_run;
    out.violation = world.step(c);
  }
  out.ops = world.ops();
  out.accepted = world.accepted_count();
  out.tally = world.tally();
  if (keep_trace) out.trace = world.trace();
  return out;
}

std::vector<SimCommand> shrink(const WorldConfig& config, std::vector<SimCommand> commands,
                               const std::string& invariant, int executions_max) {
  // Nothing after the failing command matters.
  RunOutcome first = execute(config, commands, false);
  if (first.violation) commands.resize(first.commands_run);
  return shrink_while(
      config, std::move(commands),
      [&](const RunOutcome& o) { return o.violation && o.violation->invariant == invariant; },
      executions_max);
}

std::vector<SimCommand> shrink_while(const WorldConfig& config, std::vector<SimCommand> commands,
                                     const std::function<bool(const RunOutcome&)>& still_holds,
                                     int executions_max) {
  int executions = 0;
  auto still_fails = [&](const std::vector<SimCommand>& candidate) {
    ++executions;
    return still_holds(execute(config, candidate, false));
  };
  for (std::size_t chunk = std::max<std::size_t>(commands.size() / 2, 1); chunk >= 1;
       chunk /= 2) {
    for (std::size_t at = 0; at < commands.size() && executions < executions_max;) {
      std::vector<SimCommand> candidate = commands;
      candidate.erase(candidate.begin() + static_cast<std::ptrdiff_t>(at),
                      candidate.begin() +
                          static_cast<std::ptrdiff_t>(std::min(at + chunk, candidate.size())));
      if (still_fails(candidate)) {
        commands = std::move(candidate);
      } else {
        at += chunk;
      }
    }
    if (chunk == 1 || executions >= executions_max) break;
  }
  return commands;
}

std::string describe(const WorldConfig& c) {
  std::string text = std::string(to_string(c.layout)) + " volume, mode " +
                     std::string(to_string(c.mode)) + ", poll " +
                     std::to_string(c.poll_interval.count()) + " ms, safety " +
                     std::to_string(c.safety_interval.count()) + " ms, rehash every " +
                     std::to_string(c.rehash_every) + " (safety polls: every " +
                     std::to_string(c.safety_rehash_every) + "), mtime granularity " +
                     std::to_string(c.granularity.count()) + " ns";
  if (c.silent_volume) text += ", NFS-like volume (no events)";
  if (c.watch_limit_errno) text += ", add_watch fails (errno " + std::to_string(c.watch_limit_errno) + ")";
  if (!c.watch_volume) text += ", no VolumeWatcher";
  if (c.ancestors_unwatchable) text += ", the directories above it cannot be watched";
  if (c.hung_volume) text += ", its server can stop answering, a local file beside";
  if (c.frozen_dir_stamps) text += ", directories keep their stamps";
  if (c.initial != InitialState::valid) text += ", starts on a " + std::string(to_string(c.initial)) + " file";
  return text + ", world seed " + std::to_string(c.seed);
}

}  // namespace hotreload::harness
