#include "real_campaign.h"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "checksummed_content.h"
#include "hotreload/file_watcher.h"
#include "hotreload/hub.h"
#include "posix_tree.h"
#include "spawn_program.h"
#include "writers.h"

namespace hotreload::harness {

namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr uint64_t kFuseMagic = 0x65735546;
constexpr unsigned kRehashEvery = 10;
// What a loaded CI machine may add to a bound derived from the intervals.
constexpr auto kSchedulingSlack = 2s;

// Waits until pred holds or bound passes (never longer; returns as soon as it holds).
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds bound) {
  auto until = Steady::now() + bound;
  while (!pred()) {
    if (Steady::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::string make_temp_dir(const std::string& parent, const std::string& stem) {
  std::string pattern = parent + "/" + stem + "-XXXXXX";
  if (!::mkdtemp(pattern.data())) return {};
  return pattern;
}

std::optional<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int run_quiet(const std::vector<std::string>& argv) { return run_program(argv, true); }

bool have_program(const std::string& name) { return find_program(name).has_value(); }

// Safety invariants, checked inside every callback (on the hub thread).
class Checker {
 public:
  Callback callback() {
    return [this](std::string_view content) {
      if (++in_flight_ > 1) violate("the callback ran twice at once");
      struct Leave {
        std::atomic<int>& n;
        ~Leave() { --n; }
      } leave{in_flight_};
      std::lock_guard lock(mu_);
      ++calls_;
      if (!acceptable(content)) return Verdict::reject("checksum line does not match");
      if (!written_.count(std::string(content)))
        violate_locked("accepted a content that was never written whole");
      accepted_.emplace_back(content);
      return Verdict::accept();
    };
  }
  void wrote(const std::string& content) {
    std::lock_guard lock(mu_);
    written_.insert(content);
  }
  uint64_t calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::string last_accepted() const {
    std::lock_guard lock(mu_);
    return accepted_.empty() ? std::string() : accepted_.back();
  }
  std::size_t accepted_count() const {
    std::lock_guard lock(mu_);
    return accepted_.size();
  }
  std::string violation() const {
    std::lock_guard lock(mu_);
    return violation_;
  }
  void violate(const std::string& what) {
    std::lock_guard lock(mu_);
    violate_locked(what);
  }

 private:
  void violate_locked(const std::string& what) {
    if (violation_.empty()) violation_ = what;
  }
  mutable std::mutex mu_;
  std::atomic<int> in_flight_{0};
  std::set<std::string> written_;
  std::vector<std::string> accepted_;
  uint64_t calls_ = 0;
  std::string violation_;
};

struct ScenarioSetup {
  std::string name;
  std::string write_root;  // where writers change files
  std::string watch_root;  // where the watcher looks (a mount of write_root, or itself)
  bool expect_poll = false;
  // Added to the bound on a change's detection: how long stat may hide it (nfs_like).
  std::chrono::milliseconds attribute_cache{0};
};

// Smaller than hotreload's default, so that an oversized file costs little to write.
constexpr std::size_t kReadSizeMax = 64 * 1024;

// The mixed writer's actions. Publishes are the common case; every other one comes often
// enough that 1,000 actions give each dozens of times.
enum class Action {
  publish, corrupt_publish, editor_save, in_place_write, key_removed, volume_recreated,
  permission_flip, symlink_loop, oversized, count
};
constexpr const char* kActionNames[] = {
    "publish",         "corrupt_publish", "editor_save",  "in_place_write", "key_removed",
    "volume_recreated", "permission_flip", "symlink_loop", "oversized"};
static_assert(std::size(kActionNames) == static_cast<std::size_t>(Action::count));

class ScenarioRun {
 public:
  ScenarioRun(const ScenarioSetup& setup, const RealCampaignOptions& options, const RealLog& log)
      : setup_(setup), options_(options), log_(log), rng_(options.seed),
        kubelet_(setup.write_root + "/cfg") {
    result_.name = setup.name;
  }

  RealScenario run() {
    result_.ran = true;
    auto began = Steady::now();
    std::filesystem::create_directories(setup_.write_root + "/cfg");
    publish(make_content(1, ContentKind::valid));
    auto logger = std::make_shared<spdlog::logger>(
        "hotreload-real", std::make_shared<spdlog::sinks::null_sink_mt>());
    auto hub = Hub::make_posix(logger);
    Options o;
    o.poll_interval = options_.poll_interval;
    o.safety_interval = options_.safety_interval;
    o.rehash_every = kRehashEvery;
    o.safety_rehash_every = kRehashEvery;
    o.read_size_max = kReadSizeMax;
    o.logger = logger;
    FileWatcher watcher(setup_.watch_root + "/cfg/app.yaml", checker_.callback(), o, hub);
    watcher_ = &watcher;
    try {
      watcher.start();
    } catch (const StartError& e) {
      return fail(std::string("start failed: ") + e.what());
    }
    ActiveMode want = setup_.expect_poll ? ActiveMode::poll : ActiveMode::events;
    if (watcher.status().mode != want)
      return fail("auto chose " + std::string(to_string(watcher.status().mode)) + ", expected " +
                  std::string(to_string(want)));
    for (int round = 0; round < options_.rounds && result_.held; ++round) one_round(round + 2);
    watcher.stop();
    watcher_ = nullptr;
    result_.callbacks = checker_.calls();
    result_.p99_convergence_ms = p99(convergence_ms_);
    result_.seconds = std::chrono::duration<double>(Steady::now() - began).count();
    return result_;
  }

 private:
  std::string cfg() const { return setup_.write_root + "/cfg"; }
  std::string watched_on_disk() const { return cfg() + "/app.yaml"; }

  void publish(const std::string& content) {
    checker_.wrote(content);
    apply_all(tree_, kubelet_.plan(tree_, {{"app.yaml", content}, {"other.yaml", "x\n"}}));
  }

  std::chrono::milliseconds bound() const {
    // Events are immediate (one poll interval is generous). Polling finds a change within
    // an interval once stat shows it (after the attribute cache, if the volume has one),
    // and a same-size rewrite that stat cannot show by the every-Nth-poll rehash.
    // In events mode, an edit in place inside the kubelet's ..<timestamp> directory (which
    // the kubelet never makes, so no kernel watch is spent there and a safety poll trusts
    // the volume's witness for it) waits for the safety poll that reads; the volume then
    // polls.
    auto base = setup_.expect_poll
                    ? std::max(options_.poll_interval * (kRehashEvery + 1),
                               setup_.attribute_cache + 2 * options_.poll_interval)
                    : edits_payload_ ? options_.safety_interval * (kRehashEvery + 1) +
                                           options_.poll_interval
                                     : options_.poll_interval;
    return base + std::chrono::duration_cast<std::chrono::milliseconds>(kSchedulingSlack);
  }

  void one_round(int version) {
    ++result_.actions;
    std::string valid = make_content(version, ContentKind::valid);
    action_ = static_cast<Action>(rng_() % static_cast<unsigned>(Action::count));
    edits_payload_ = (action_ == Action::in_place_write || action_ == Action::permission_flip) &&
                     std::filesystem::is_symlink(std::filesystem::symlink_status(watched_on_disk()));
    switch (action_) {
      case Action::publish: publish(valid); break;
      case Action::corrupt_publish: corrupt_publish(version, valid); break;
      case Action::editor_save:  // replaces the key's symlink with a plain file
        checker_.wrote(valid);
        apply_all(tree_, plan_editor_save(watched_on_disk(), valid));
        break;
      case Action::in_place_write:  // in chunks: partial contents are visible
        checker_.wrote(valid);
        apply_all(tree_, plan_in_place_write(watched_on_disk(), valid, 3));
        break;
      case Action::key_removed:
        apply_all(tree_, kubelet_.plan(tree_, {{"other.yaml", "x\n"}}));
        expect_error("the deleted key");
        publish(valid);
        break;
      case Action::volume_recreated:  // the whole volume goes, then is published afresh
        apply_all(tree_, {{TreeOp::Kind::remove_all, cfg()}});
        expect_error("the removed volume directory");
        apply_all(tree_, {{TreeOp::Kind::make_dir, cfg(), "", "", 0755}});
        publish(valid);
        break;
      case Action::permission_flip: permission_flip(valid); break;
      case Action::symlink_loop:  // app.yaml -> app.loop -> app.yaml
        replace_key({{TreeOp::Kind::symlink, cfg() + "/app.loop", "app.yaml"},
                     {TreeOp::Kind::symlink, watched_on_disk(), "app.loop"}});
        expect_error("the symlink loop");
        apply_all(tree_, {{TreeOp::Kind::remove, cfg() + "/app.loop"}});
        replace_key({});
        publish(valid);
        break;
      case Action::oversized: {
        std::string big = make_content(version, ContentKind::oversized, kReadSizeMax + 1 + rng_() % 4096);
        apply_all(tree_, plan_editor_save(watched_on_disk(), big));  // never to be accepted
        expect_error("the oversized file");
        checker_.wrote(valid);
        apply_all(tree_, plan_editor_save(watched_on_disk(), valid));
        break;
      }
      case Action::count: break;
    }
    converge();
  }

  // Removes the key (a link or a file) and applies ops in its place; a publish then
  // recreates the kubelet's link.
  void replace_key(std::vector<TreeOp> ops) {
    ops.insert(ops.begin(), {TreeOp::Kind::remove, watched_on_disk()});
    apply_all(tree_, ops);
  }

  // A corrupt content is kept out; the next valid one loads.
  void corrupt_publish(int version, const std::string& valid) {
    uint64_t before = checker_.calls();
    std::string last = checker_.last_accepted();
    std::string corrupt = make_content(version, ContentKind::corrupt);
    publish(corrupt);
    // After an editor's save the key is a plain file the kubelet no longer updates.
    bool visible = read_whole(watched_on_disk()) == corrupt;
    if (visible && !wait_until([&] { return checker_.calls() > before; }, bound()))
      return (void)fail("the corrupt content never reached the callback");
    if (checker_.last_accepted() != last) return (void)fail("a corrupt content became active");
    publish(valid);
  }

  // chmod 000 and back, with a rewrite in between that a non-root watcher cannot read yet
  // (root reads it, and the change simply converges).
  void permission_flip(const std::string& valid) {
    std::string file = watched_on_disk();  // chmod and the write follow a kubelet link
    ::chmod(file.c_str(), 0200);
    checker_.wrote(valid);
    apply_all(tree_, plan_in_place_write(file, valid, 1));
    if (::geteuid() != 0) expect_error("the unreadable file");
    ::chmod(file.c_str(), 0644);  // only IN_ATTRIB announces this
  }

  // An action that leaves the key broken must be reported, with the active content kept.
  void expect_error(const std::string& what) {
    if (!result_.held) return;
    std::string active = checker_.last_accepted();
    if (!wait_until([&] { return !watcher_->status().last_error.empty(); }, bound()))
      return (void)fail(what + " was not noticed");
    if (checker_.last_accepted() != active) return (void)fail(what + " changed the active content");
  }

  void converge() {
    if (!result_.held) return;
    auto disk = read_whole(watched_on_disk());
    if (!disk || !acceptable(*disk) || disk->size() > kReadSizeMax) return;
    Digest want = Digest::of(*disk);
    auto began = Steady::now();
    bool ok = wait_until([&] { return watcher_->status().hash == want; }, bound());
    double took_ms = std::chrono::duration<double, std::milli>(Steady::now() - began).count();
    if (took_ms > result_.slowest_convergence_ms) {
      result_.slowest_convergence_ms = took_ms;
      result_.slowest_action = kActionNames[static_cast<int>(action_)];
    }
    convergence_ms_.push_back(took_ms);
    if (!ok) return (void)fail("did not converge within " + std::to_string(bound().count()) + " ms");
    std::string broken = checker_.violation();
    if (!broken.empty()) return (void)fail(broken);
    Status st = watcher_->status();
    if (st.reloads != checker_.accepted_count() - 1)
      return (void)fail("reload count " + std::to_string(st.reloads) + " != accepted changes " +
                        std::to_string(checker_.accepted_count() - 1));
    ++result_.checks_passed;
  }

  static double p99(std::vector<double> v) {
    if (v.empty()) return 0;
    std::size_t at = (v.size() * 99 + 99) / 100 - 1;  // the nearest-rank 99th percentile
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
    return v[at];
  }

  RealScenario fail(const std::string& why) {
    if (result_.held) {
      result_.held = false;
      result_.note = why + " (action " + std::to_string(result_.actions) + ")";
      log_("  " + setup_.name + ": VIOLATION: " + result_.note);
    }
    return result_;
  }

  ScenarioSetup setup_;
  RealCampaignOptions options_;
  const RealLog& log_;
  std::mt19937_64 rng_;
  PosixTree tree_;
  KubeletWriter kubelet_;
  Checker checker_;
  FileWatcher* watcher_ = nullptr;
  RealScenario result_;
  std::vector<double> convergence_ms_;
  Action action_ = Action::publish;
  bool edits_payload_ = false;  // this action edits a file of the kubelet's payload in place
};

bool wanted(const RealCampaignOptions& o, const std::string& name) {
  return o.only.empty() || std::find(o.only.begin(), o.only.end(), name) != o.only.end();
}

RealScenario not_run(const std::string& name, const std::string& why) {
  RealScenario s;
  s.name = name;
  s.note = why;
  return s;
}

// A directory made for one scenario and removed after it, whatever happens.
class ScratchDir {
 public:
  ScratchDir(const std::string& parent, const std::string& stem)
      : path_(make_temp_dir(parent, stem)) {}
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Unmounts on every path out, including exceptions.
class Mount {
 public:
  Mount() = default;
  ~Mount() {
    if (point_.empty()) return;
    if (fuse_ && run_quiet({"fusermount3", "-u", point_}) == 0) return;
    if (run_quiet({"umount", point_}) != 0) run_quiet({"umount", "-l", point_});
  }
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  // Runs the mount command; on success, the point is unmounted when this goes.
  bool mount(const std::vector<std::string>& command, const std::string& point, bool fuse) {
    if (run_quiet(command) != 0) return false;
    point_ = point;
    fuse_ = fuse;
    return true;
  }

 private:
  std::string point_;
  bool fuse_ = false;
};

std::optional<uint64_t> filesystem_type(const std::string& path) {
  struct statfs sf {};
  if (::statfs(path.c_str(), &sf) != 0) return std::nullopt;
  return static_cast<uint64_t>(sf.f_type);
}

RealScenario run_in(const std::string& name, const std::string& write_root,
                    const std::string& watch_root, bool expect_poll,
                    std::chrono::milliseconds attribute_cache, const RealCampaignOptions& o,
                    const RealLog& log) {
  return ScenarioRun({name, write_root, watch_root, expect_poll, attribute_cache}, o, log).run();
}

// A scenario on a directory of DIR's own filesystem (as non-root: unreadable is this too).
RealScenario run_here(const std::string& name, const RealCampaignOptions& o, const RealLog& log) {
  ScratchDir root(o.dir, "hotreload-real-" + name);
  if (root.path().empty()) return not_run(name, "cannot create a directory in " + o.dir);
  return run_in(name, root.path(), root.path(), false, {}, o, log);
}

RealScenario run_inotify(const RealCampaignOptions& o, const RealLog& log) {
  return run_here("inotify", o, log);
}

RealScenario run_unreadable(const RealCampaignOptions& o, const RealLog& log) {
  if (::geteuid() == 0)
    return not_run("unreadable", "root reads files whatever their mode: run as an unprivileged "
                                 "user (hotreload harness --real re-runs this part as nobody "
                                 "via setpriv)");
  return run_here("unreadable", o, log);
}

// A kernel filesystem mounted on a scratch directory: tmpfs, or ext4 on a loop device.
RealScenario run_mounted(const std::string& name, const RealCampaignOptions& o,
                         const RealLog& log) {
  if (::geteuid() != 0) return not_run(name, "not root: cannot mount here");
  ScratchDir root(o.dir, "hotreload-real-" + name);
  if (root.path().empty()) return not_run(name, "cannot create a directory in " + o.dir);
  std::string mnt = root.path() + "/mnt";
  std::filesystem::create_directories(mnt);
  Mount mount;
  if (name == "tmpfs") {
    if (!mount.mount({"mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt}, mnt, false))
      return not_run(name, "mount -t tmpfs failed");
  } else {
    std::string image = root.path() + "/ext4.img";
    if (!have_program("mkfs.ext4")) return not_run(name, "mkfs.ext4 is not installed (e2fsprogs)");
    std::ofstream(image, std::ios::binary).close();
    if (::truncate(image.c_str(), 64 << 20) != 0 ||
        run_quiet({"mkfs.ext4", "-q", "-F", image}) != 0)
      return not_run(name, "mkfs.ext4 failed on " + image);
    if (!mount.mount({"mount", "-o", "loop", image, mnt}, mnt, false))
      return not_run(name, "mount -o loop failed (no loop devices here?)");
  }
  return run_in(name, mnt, mnt, false, {}, o, log);
}

RealScenario run_tmpfs(const RealCampaignOptions& o, const RealLog& log) {
  return run_mounted("tmpfs", o, log);
}

RealScenario run_ext4(const RealCampaignOptions& o, const RealLog& log) {
  return run_mounted("ext4", o, log);
}

// A FUSE daemon serving a directory that the writers change underneath: the mount sees
// no events for those changes, and `auto` must choose polling on its own.
RealScenario run_fuse(const std::string& name, const std::vector<std::string>& daemon,
                      std::chrono::milliseconds attribute_cache, const RealCampaignOptions& o,
                      const RealLog& log) {
  if (::geteuid() != 0) return not_run(name, "not root: cannot mount FUSE here");
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return not_run(name, "no /dev/fuse");
  ScratchDir root(o.dir, "hotreload-real-" + name);
  if (root.path().empty()) return not_run(name, "cannot create a directory in " + o.dir);
  std::string under = root.path() + "/under", mnt = root.path() + "/mnt";
  std::filesystem::create_directories(under);
  std::filesystem::create_directories(mnt);
  std::vector<std::string> command = daemon;
  command.insert(command.end(), {under, mnt});
  Mount mount;
  if (!mount.mount(command, mnt, true))
    return not_run(name, daemon[0] + " could not mount (no FUSE permission here?)");
  if (filesystem_type(mnt) != kFuseMagic) return not_run(name, "the mount is not FUSE");
  return run_in(name, under, mnt, true, attribute_cache, o, log);
}

RealScenario run_bindfs(const RealCampaignOptions& o, const RealLog& log) {
  auto bindfs = find_program("bindfs");
  if (!bindfs) return not_run("bindfs", "bindfs is not installed");
  // FUSE's default attribute cache: one second.
  return run_fuse("bindfs", {*bindfs}, std::chrono::seconds(1), o, log);
}

RealScenario run_nfs_like(const RealCampaignOptions& o, const RealLog& log) {
  std::optional<std::string> daemon =
      o.nfs_like.empty() ? find_program("nfs_like") : std::optional(o.nfs_like);
  if (!daemon || ::access(daemon->c_str(), X_OK) != 0)
    return not_run("nfs_like", "the nfs_like daemon was not found (--nfs-like PATH; it is built "
                               "in the build tree's harness/ when libfuse3-dev is installed)");
  double seconds = std::chrono::duration<double>(o.nfs_attr_timeout).count();
  return run_fuse("nfs_like", {*daemon, "--attr-timeout", std::to_string(seconds)},
                  o.nfs_attr_timeout, o, log);
}

using Runner = RealScenario (*)(const RealCampaignOptions&, const RealLog&);
const std::vector<std::pair<std::string, Runner>>& scenarios() {
  static const std::vector<std::pair<std::string, Runner>> all{
      {"inotify", run_inotify}, {"tmpfs", run_tmpfs},       {"ext4", run_ext4},
      {"bindfs", run_bindfs},   {"nfs_like", run_nfs_like}, {"unreadable", run_unreadable}};
  return all;
}

std::string summary(const RealScenario& s) {
  if (!s.ran) return "NOT RUN (" + s.note + ")";
  char figures[160];
  std::snprintf(figures, sizeof figures, ", slowest %.0f ms (%s), P99 %.1f ms, %.0f s",
                s.slowest_convergence_ms, s.slowest_action.c_str(), s.p99_convergence_ms,
                s.seconds);
  return (s.held ? std::string("held") : "VIOLATED (" + s.note + ")") + ", " +
         std::to_string(s.actions) + " actions, " + std::to_string(s.checks_passed) +
         " convergence checks" + figures;
}

}  // namespace

bool RealCampaignReport::all_held() const {
  for (const RealScenario& s : scenarios)
    if (!s.held) return false;
  return true;
}

const std::vector<std::string>& real_scenario_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, runner] : scenarios()) n.push_back(name);
    return n;
  }();
  return names;
}

RealCampaignReport run_real_campaign(const RealCampaignOptions& options, const RealLog& log) {
  RealCampaignReport report;
  for (const auto& [name, runner] : scenarios()) {
    if (!wanted(options, name)) continue;
    log("real " + name + ": running");
    RealScenario s = runner(options, log);
    log("real " + s.name + ": " + summary(s));
    report.scenarios.push_back(std::move(s));
  }
  return report;
}

}  // namespace hotreload::harness
