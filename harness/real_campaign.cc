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
  bool unreadable_steps = false;
};

class ScenarioRun {
 public:
  ScenarioRun(const ScenarioSetup& setup, const RealCampaignOptions& options, const RealLog& log)
      : setup_(setup), options_(options), log_(log), rng_(options.seed),
        kubelet_(setup.write_root + "/cfg") {
    result_.name = setup.name;
  }

  RealScenario run() {
    result_.ran = true;
    std::filesystem::create_directories(setup_.write_root + "/cfg");
    publish(make_content(1, ContentKind::valid));
    auto logger = std::make_shared<spdlog::logger>(
        "hotreload-real", std::make_shared<spdlog::sinks::null_sink_mt>());
    auto hub = Hub::make_posix(logger);
    Options o;
    o.poll_interval = options_.poll_interval;
    o.safety_interval = options_.safety_interval;
    o.rehash_every = kRehashEvery;
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
    return result_;
  }

 private:
  std::string watched_on_disk() const { return setup_.write_root + "/cfg/app.yaml"; }

  void publish(const std::string& content) {
    checker_.wrote(content);
    apply_all(tree_, kubelet_.plan(tree_, {{"app.yaml", content}, {"other.yaml", "x\n"}}));
  }

  std::chrono::milliseconds bound() const {
    // Events are immediate (one poll interval is generous). Polling finds a change within
    // an interval, unless the volume caches attributes (FUSE and NFS do, ~1 s): then the
    // every-Nth-poll rehash does, within rehash_every + 1 intervals.
    auto base = setup_.expect_poll ? options_.poll_interval * (kRehashEvery + 1)
                                   : options_.poll_interval;
    return base + std::chrono::duration_cast<std::chrono::milliseconds>(kSchedulingSlack);
  }

  void one_round(int version) {
    ++result_.actions;
    std::string valid = make_content(version, ContentKind::valid);
    switch (setup_.unreadable_steps ? 5 : rng_() % 5) {
      case 0: publish(valid); break;
      case 1: {  // invalid content: kept out, then the next valid one loads
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
        break;
      }
      case 2:  // an editor's atomic save over the key (replaces the symlink)
        checker_.wrote(valid);
        apply_all(tree_, plan_editor_save(watched_on_disk(), valid));
        break;
      case 3:  // in place, in chunks: partial contents are visible
        checker_.wrote(valid);
        apply_all(tree_, plan_in_place_write(watched_on_disk(), valid, 3));
        break;
      case 4: {  // the key leaves the payload, then comes back
        apply_all(tree_, kubelet_.plan(tree_, {{"other.yaml", "x\n"}}));
        if (!wait_until([&] { return !watcher_->status().last_error.empty(); }, bound()))
          return (void)fail("the deleted key was not noticed");
        publish(valid);
        break;
      }
      case 5: unreadable_round(valid); break;
    }
    converge();
  }

  // chmod 000 and back, with a rewrite in between that the watcher cannot read yet.
  void unreadable_round(const std::string& valid) {
    std::string file = watched_on_disk();
    ::chmod(file.c_str(), 0200);
    checker_.wrote(valid);
    apply_all(tree_, plan_in_place_write(file, valid, 1));
    if (!wait_until([&] { return !watcher_->status().last_error.empty(); }, bound()))
      return (void)fail("an unreadable file was not reported");
    ::chmod(file.c_str(), 0644);  // only IN_ATTRIB announces this
  }

  void converge() {
    if (!result_.held) return;
    auto disk = read_whole(watched_on_disk());
    if (!disk || !acceptable(*disk)) return;
    Digest want = Digest::of(*disk);
    auto began = Steady::now();
    bool ok = wait_until([&] { return watcher_->status().hash == want; }, bound());
    double took_ms = std::chrono::duration<double, std::milli>(Steady::now() - began).count();
    result_.slowest_convergence_ms = std::max(result_.slowest_convergence_ms, took_ms);
    if (!ok) return (void)fail("did not converge within " + std::to_string(bound().count()) + " ms");
    std::string broken = checker_.violation();
    if (!broken.empty()) return (void)fail(broken);
    Status st = watcher_->status();
    if (st.reloads != checker_.accepted_count() - 1)
      return (void)fail("reload count " + std::to_string(st.reloads) + " != accepted changes " +
                        std::to_string(checker_.accepted_count() - 1));
    ++result_.checks_passed;
  }

  RealScenario fail(const std::string& why) {
    if (result_.held) {
      result_.held = false;
      result_.note = why;
      log_("  " + setup_.name + ": VIOLATION: " + why);
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

RealScenario run_inotify(const RealCampaignOptions& o, const RealLog& log) {
  std::string root = make_temp_dir(o.dir, "hotreload-real-inotify");
  if (root.empty()) return not_run("inotify", "cannot create a directory in " + o.dir);
  RealScenario r = ScenarioRun({"inotify", root, root, false, false}, o, log).run();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return r;
}

// Unmounts on every path out, including exceptions.
class Mount {
 public:
  explicit Mount(std::string point) : point_(std::move(point)) {}
  ~Mount() {
    if (run_quiet({"fusermount3", "-u", point_}) != 0) run_quiet({"umount", "-l", point_});
  }
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

 private:
  std::string point_;
};

RealScenario run_bindfs(const RealCampaignOptions& o, const RealLog& log) {
  const std::string name = "bindfs";
  if (::geteuid() != 0) return not_run(name, "not root: cannot mount FUSE here");
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return not_run(name, "no /dev/fuse");
  if (!have_program("bindfs")) return not_run(name, "bindfs is not installed");
  std::string root = make_temp_dir(o.dir, "hotreload-real-bindfs");
  if (root.empty()) return not_run(name, "cannot create a directory in " + o.dir);
  std::string under = root + "/under", mnt = root + "/mnt";
  std::filesystem::create_directories(under);
  std::filesystem::create_directories(mnt);
  RealScenario r;
  if (run_quiet({"bindfs", under, mnt}) != 0) {
    r = not_run(name, "bindfs could not mount (no FUSE permission in this environment?)");
  } else {
    Mount mount(mnt);
    struct statfs sf {};
    if (::statfs(mnt.c_str(), &sf) != 0 || static_cast<uint64_t>(sf.f_type) != kFuseMagic) {
      r = not_run(name, "the bindfs mount is not FUSE");
    } else {
      r = ScenarioRun({name, under, mnt, true, false}, o, log).run();
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return r;
}

RealScenario run_unreadable(const RealCampaignOptions& o, const RealLog& log) {
  const std::string name = "unreadable";
  if (::geteuid() == 0)
    return not_run(name, "root reads files whatever their mode: run as an unprivileged user "
                         "(hotreload harness --real re-runs this part as nobody via setpriv)");
  std::string root = make_temp_dir(o.dir, "hotreload-real-unreadable");
  if (root.empty()) return not_run(name, "cannot create a directory in " + o.dir);
  RealScenario r = ScenarioRun({name, root, root, false, true}, o, log).run();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return r;
}

}  // namespace

bool RealCampaignReport::all_held() const {
  for (const RealScenario& s : scenarios)
    if (!s.held) return false;
  return true;
}

RealCampaignReport run_real_campaign(const RealCampaignOptions& options, const RealLog& log) {
  RealCampaignReport report;
  using Runner = RealScenario (*)(const RealCampaignOptions&, const RealLog&);
  const std::pair<const char*, Runner> scenarios[] = {
      {"inotify", run_inotify}, {"bindfs", run_bindfs}, {"unreadable", run_unreadable}};
  for (const auto& [name, runner] : scenarios) {
    if (!wanted(options, name)) continue;
    log("real " + std::string(name) + ": running");
    RealScenario s = runner(options, log);
    log("real " + s.name + ": " +
        (!s.ran ? "NOT RUN (" + s.note + ")"
                : (s.held ? "held" : "VIOLATED (" + s.note + ")") + std::string(", ") +
                      std::to_string(s.actions) + " actions, " +
                      std::to_string(s.checks_passed) + " convergence checks, slowest " +
                      std::to_string(static_cast<long>(s.slowest_convergence_ms)) + " ms"));
    report.scenarios.push_back(std::move(s));
  }
  return report;
}

}  // namespace hotreload::harness
