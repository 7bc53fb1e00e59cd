// FileWatcher, Hub and Reloadable<T> on the real filesystem, with the real hub thread and
// real inotify, driven by the writers of harness/writers.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <latch>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "hotreload/errors.h"
#include "hotreload/hub.h"
#include "hotreload/reloadable.h"
#include "hotreload/volume_watcher.h"
#include "posix/posix_seams.h"
#include "posix_tree.h"
#include "test_support.h"
#include "writers.h"

using namespace hotreload;
using namespace hotreload::test;

namespace {

// The permission check root skips: a file with no read bit cannot be opened. CI runs as
// root, where chmod 000 changes nothing, so unreadability is judged here from the mode.
class NonRootFilesystem final : public Filesystem {
 public:
  Result<FileStat> lstat(const std::string& p) override { return real_.lstat(p); }
  Result<std::string> readlink(const std::string& p) override { return real_.readlink(p); }
  Result<uint64_t> filesystem_type(const std::string& p) override {
    return real_.filesystem_type(p);
  }
  Result<std::vector<std::string>> read_directory(const std::string& p) override {
    return real_.read_directory(p);
  }
  Result<std::unique_ptr<OpenFile>> open(const std::string& p) override {
    struct ::stat st;
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & 0444) == 0) return errno_code(EACCES);
    return real_.open(p);
  }

 private:
  posix::PosixFilesystem real_;
};

// Inotify whose events never arrive, like a volume whose changes are made elsewhere.
class SilentEvents final : public EventSource {
 public:
  Result<int> add_watch(const std::string& p) override { return real_.add_watch(p); }
  void remove_watch(int wd) override { real_.remove_watch(wd); }
  std::error_code wait(std::chrono::nanoseconds timeout, std::vector<Event>&) override {
    std::vector<Event> dropped;
    return real_.wait(timeout, dropped);
  }
  void wake() override { real_.wake(); }

 private:
  posix::InotifyEventSource real_;
};

// A volume whose attributes cannot tell two writes apart: mtime and ctime never move
// (coarse timestamps, or NFS attribute caching). Only reading the content can.
class FrozenTimesFilesystem final : public Filesystem {
 public:
  Result<FileStat> lstat(const std::string& p) override { return freeze(real_.lstat(p)); }
  Result<std::string> readlink(const std::string& p) override { return real_.readlink(p); }
  Result<uint64_t> filesystem_type(const std::string& p) override {
    return real_.filesystem_type(p);
  }
  Result<std::vector<std::string>> read_directory(const std::string& p) override {
    return real_.read_directory(p);
  }
  Result<std::unique_ptr<OpenFile>> open(const std::string& p) override {
    auto f = real_.open(p);
    if (!f) return f.error();
    return std::unique_ptr<OpenFile>(new Frozen(std::move(*f)));
  }

 private:
  static Result<FileStat> freeze(Result<FileStat> st) {
    if (st) st->mtime_ns = st->ctime_ns = 0;
    return st;
  }
  struct Frozen final : OpenFile {
    explicit Frozen(std::unique_ptr<OpenFile> f) : real(std::move(f)) {}
    Result<FileStat> stat() override { return freeze(real->stat()); }
    Result<std::size_t> read(std::span<char> b) override { return real->read(b); }
    std::unique_ptr<OpenFile> real;
  };
  posix::PosixFilesystem real_;
};

std::shared_ptr<Hub> hub_with(std::shared_ptr<Filesystem> fs, std::unique_ptr<EventSource> ev) {
  auto hub = std::make_shared<Hub>(
      Seams{std::move(fs), std::move(ev), std::make_shared<posix::SteadyClock>()});
  hub->start_thread();
  return hub;
}

Options fast_options() {
  Options o;
  o.poll_interval = 20ms;
  o.safety_interval = 100ms;
  return o;
}

std::string start_error(const std::string& path, Callback cb, Options options = {}) {
  FileWatcher w(path, std::move(cb), std::move(options), Hub::make_posix());
  try {
    w.start();
  } catch (const StartError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kubelet_volume)

BOOST_AUTO_TEST_CASE(each_update_reaches_the_callback_once_with_its_content) {
  TempDir dir;
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(dir.path());
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", "v0"}, {"other", "o0"}})));
  Recorder rec;
  FileWatcher w(dir / "key", rec.callback(), fast_options(), Hub::make_posix());
  w.start();
  BOOST_TEST(w.status().mode == ActiveMode::events);

  for (int i = 1; i <= 50; ++i) {
    std::string v = "v" + std::to_string(i);
    BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", v}, {"other", "o0"}})));
    BOOST_REQUIRE_MESSAGE(rec.wait_accepted(v), "update " << v << " never arrived");
  }
  // An update of another key, republishing this one unchanged, calls nobody.
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", "v50"}, {"other", "o1"}})));
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", "v51"}, {"other", "o1"}})));
  BOOST_REQUIRE(rec.wait_accepted("v51"));

  std::vector<std::string> expected;
  for (int i = 0; i <= 51; ++i) expected.push_back("v" + std::to_string(i));
  BOOST_TEST(rec.accepted() == expected, boost::test_tools::per_element());
  BOOST_REQUIRE(eventually([&] { return w.status().reloads == 51u; }));  // committed after
  Status s = w.status();
  BOOST_TEST(s.errors == 0u);
  BOOST_TEST(s.hash->hex() == Digest::of("v51").hex());
}

BOOST_AUTO_TEST_CASE(a_rejected_content_keeps_the_previous_and_the_next_valid_one_loads) {
  TempDir dir;
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(dir.path());
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", "good1"}})));
  Recorder rec;
  FileWatcher w(dir / "key", rec.callback(), fast_options(), Hub::make_posix());
  w.start();

  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", "bad!"}})));
  BOOST_REQUIRE(rec.wait_seen(2));
  BOOST_TEST(w.status().hash->hex() == Digest::of("good1").hex());
  BOOST_REQUIRE(eventually([&] { return w.status().errors == 1u; }));
  BOOST_TEST(contains(w.status().last_error, "starts with bad"));

  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", "good2"}})));
  BOOST_REQUIRE(rec.wait_accepted("good2"));
  BOOST_REQUIRE(eventually([&] { return w.status().last_error.empty(); }));
  BOOST_TEST((rec.seen() == std::vector<std::string>{"good1", "bad!", "good2"}));
}

BOOST_AUTO_TEST_CASE(a_key_removed_and_restored) {
  TempDir dir;
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(dir.path());
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", "k1"}, {"x", "1"}})));
  Recorder rec;
  FileWatcher w(dir / "key", rec.callback(), fast_options(), Hub::make_posix());
  w.start();
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"x", "2"}})));
  BOOST_REQUIRE(eventually([&] { return w.status().errors == 1; }));
  BOOST_TEST(w.status().hash->hex() == Digest::of("k1").hex());  // kept
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", "k2"}, {"x", "2"}})));
  BOOST_REQUIRE(rec.wait_accepted("k2"));
}

BOOST_AUTO_TEST_CASE(the_directory_deleted_and_recreated) {
  TempDir root;
  std::string volume = root / "volume";
  ::mkdir(volume.c_str(), 0755);
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(volume);
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"key", "before"}})));
  Recorder rec;
  auto hub = Hub::make_posix();
  FileWatcher w(volume + "/key", rec.callback(), fast_options(), hub);
  w.start();

  std::filesystem::remove_all(volume);
  BOOST_REQUIRE(eventually([&] { return w.status().errors == 1; }));
  BOOST_TEST(w.status().hash->hex() == Digest::of("before").hex());

  ::mkdir(volume.c_str(), 0755);
  harness::KubeletWriter remount(volume);
  BOOST_REQUIRE(!apply_all(tree, remount.plan(tree, {{"key", "after"}})));
  BOOST_REQUIRE(rec.wait_accepted("after"));
  BOOST_TEST(w.status().mode == ActiveMode::events);  // re-armed, not degraded to polling
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(plain_files)

BOOST_AUTO_TEST_CASE(an_editor_atomic_save) {
  TempDir dir;
  write_file(dir / "app.conf", "one");
  Recorder rec;
  FileWatcher w(dir / "app.conf", rec.callback(), fast_options(), Hub::make_posix());
  w.start();
  harness::PosixTree tree;
  BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir / "app.conf", "two")));
  BOOST_REQUIRE(rec.wait_accepted("two"));
  BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir / "app.conf", "three")));
  BOOST_REQUIRE(rec.wait_accepted("three"));
  BOOST_TEST((rec.accepted() == std::vector<std::string>{"one", "two", "three"}));
}

BOOST_AUTO_TEST_CASE(an_in_place_truncate_and_write_is_read_after_the_close) {
  TempDir dir;
  write_file(dir / "app.conf", "first version");
  Recorder rec;
  FileWatcher w(dir / "app.conf", rec.callback(), fast_options(), Hub::make_posix());
  w.start();
  harness::PosixTree tree;
  // The file is empty, then half written, for as long as the writer holds it open.
  BOOST_REQUIRE(!apply_all(tree, harness::plan_in_place_write(dir / "app.conf",
                                                              "second version", 4)));
  BOOST_REQUIRE(rec.wait_accepted("second version"));
  for (const std::string& seen : rec.seen())
    BOOST_TEST((seen == "first version" || seen == "second version"));
}

// Issue 14 §7: `mv app app.old && mv app.new app` two levels above the file was seen
// through events in a Debug build and only by the safety poll (which then demoted the
// watch to polling) in a release build. With no safety poll to fall back on, only the
// kernel watches on the directories above can deliver it, every time, in any build.
BOOST_AUTO_TEST_CASE(a_directory_two_levels_up_swapped_by_renames_is_an_event) {
  TempDir dir;
  auto make_tree = [&](const std::string& top, const std::string& content) {
    std::filesystem::create_directories(top + "/conf.d");
    write_file(top + "/conf.d/x.yaml", content);
  };
  make_tree(dir / "app", "v0");
  Options options;
  options.mode = Mode::events;     // events alone: nothing else can find the swap
  options.safety_interval = 1h;
  Recorder rec;
  FileWatcher w(dir / "app/conf.d/x.yaml", rec.callback(), options, Hub::make_posix());
  w.start();
  for (int i = 1; i <= 5; ++i) {
    const std::string v = "v" + std::to_string(i);
    std::filesystem::remove_all(dir / "app.old");
    make_tree(dir / "app.new", v);
    std::filesystem::rename(dir / "app", dir / "app.old");
    std::filesystem::rename(dir / "app.new", dir / "app");
    BOOST_REQUIRE_MESSAGE(rec.wait_accepted(v), "swap " << i << " was not seen");
  }
  // (A check between the two renames may find no `app` and say `missing`: a true moment.)
  BOOST_TEST(w.status().mode == ActiveMode::events);
}

BOOST_AUTO_TEST_CASE(an_unreadable_file_keeps_the_last_and_reloads_when_readable_again) {
  TempDir dir;
  write_file(dir / "app.conf", "readable");
  Recorder rec;
  FileWatcher w(dir / "app.conf", rec.callback(), fast_options(),
                hub_with(std::make_shared<NonRootFilesystem>(),
                         std::make_unique<posix::InotifyEventSource>()));
  w.start();
  ::chmod((dir / "app.conf").c_str(), 0000);
  write_file(dir / "app.conf", "changed while unreadable");  // root writes regardless
  BOOST_REQUIRE(eventually([&] { return w.status().errors == 1; }));
  Status s = w.status();
  BOOST_TEST(contains(s.last_error, "Permission denied"));
  BOOST_TEST(s.hash->hex() == Digest::of("readable").hex());
  // chmod raises only IN_ATTRIB: that alone must bring the new content in.
  ::chmod((dir / "app.conf").c_str(), 0644);
  BOOST_REQUIRE(rec.wait_accepted("changed while unreadable"));
  BOOST_TEST(w.status().errors == 1u);  // one episode, logged and counted once
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(detection_modes)

BOOST_AUTO_TEST_CASE(poll_mode_finds_a_change_no_event_announces) {
  TempDir dir;
  write_file(dir / "app.conf", "a");
  Recorder rec;
  Options o = fast_options();
  o.mode = Mode::poll;
  FileWatcher w(dir / "app.conf", rec.callback(), o,
                hub_with(std::make_shared<posix::PosixFilesystem>(),
                         std::make_unique<SilentEvents>()));
  w.start();
  BOOST_TEST(w.status().mode == ActiveMode::poll);
  harness::PosixTree tree;
  BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir / "app.conf", "b")));
  BOOST_REQUIRE(rec.wait_accepted("b"));
}

BOOST_AUTO_TEST_CASE(a_safety_poll_that_finds_an_unannounced_change_switches_to_polling) {
  TempDir dir;
  write_file(dir / "app.conf", "a");
  Recorder rec;
  std::vector<Decision> decisions;
  std::mutex mu;
  Options o = fast_options();
  o.mode = Mode::events;
  o.on_decision = [&](const Decision& d) {
    std::lock_guard lock(mu);
    decisions.push_back(d);
  };
  FileWatcher w(dir / "app.conf", rec.callback(), o,
                hub_with(std::make_shared<posix::PosixFilesystem>(),
                         std::make_unique<SilentEvents>()));
  w.start();
  BOOST_TEST(w.status().mode == ActiveMode::events);
  harness::PosixTree tree;
  // "b" may be found by the check that follows arming; "c" only by a safety poll.
  BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir / "app.conf", "b")));
  BOOST_REQUIRE(rec.wait_accepted("b"));
  BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir / "app.conf", "c")));
  BOOST_REQUIRE(rec.wait_accepted("c"));
  BOOST_REQUIRE(eventually([&] { return w.status().mode == ActiveMode::poll; }));
  BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir / "app.conf", "d")));
  BOOST_REQUIRE(rec.wait_accepted("d"));  // and polling finds the next
  std::lock_guard lock(mu);
  auto modes = std::count_if(decisions.begin(), decisions.end(),
                             [](const Decision& d) { return d.kind == DecisionKind::mode; });
  BOOST_TEST(modes == 1);  // logged once
}

BOOST_AUTO_TEST_CASE(a_same_size_same_mtime_rewrite_is_caught_by_the_periodic_rehash) {
  TempDir dir;
  write_file(dir / "app.conf", "aaaa");
  Recorder rec;
  Options o = fast_options();
  o.mode = Mode::poll;
  o.rehash_every = 3;
  std::vector<Decision> reloads;
  std::mutex mu;
  o.on_decision = [&](const Decision& d) {
    std::lock_guard lock(mu);
    if (d.kind == DecisionKind::reloaded) reloads.push_back(d);
  };
  FileWatcher w(dir / "app.conf", rec.callback(), o,
                hub_with(std::make_shared<FrozenTimesFilesystem>(),
                         std::make_unique<SilentEvents>()));
  w.start();
  // Same inode, same size, and (on this volume) the same times: the signature is unchanged.
  write_file(dir / "app.conf", "bbbb");
  BOOST_REQUIRE(rec.wait_accepted("bbbb"));
  BOOST_TEST(eventually([&] { return w.status().reloads == 1u; }));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(start_errors)

BOOST_AUTO_TEST_CASE(bad_input_fails_start_with_the_path_and_the_reason) {
  TempDir dir;
  Recorder rec;
  ::mkdir((dir / "sub").c_str(), 0755);
  ::symlink("loop-b", (dir / "loop-a").c_str());
  ::symlink("loop-a", (dir / "loop-b").c_str());
  write_file(dir / "empty", "");
  write_file(dir / "big", std::string(2048, 'x'));
  write_file(dir / "ok", "fine");

  std::string e = start_error(dir / "absent", rec.callback());
  BOOST_TEST(contains(e, dir / "absent"));
  BOOST_TEST(contains(e, "No such file or directory"));
  BOOST_TEST(contains(start_error(dir / "sub", rec.callback()), "Is a directory"));
  BOOST_TEST(contains(start_error(dir / "loop-a", rec.callback()), "Too many levels of symbolic"));
  BOOST_TEST(contains(start_error(dir / "empty", rec.callback()), "file is empty"));
  Options small;
  small.read_size_max = 1024;
  BOOST_TEST(contains(start_error(dir / "big", rec.callback(), small), "File too large"));
  std::string thrown = start_error(dir / "ok", [](std::string_view) -> Verdict {
    throw std::runtime_error("parse error at line 1");
  });
  BOOST_TEST(contains(thrown, "content rejected: parse error at line 1"));
  BOOST_TEST(contains(thrown, dir / "ok"));
}

BOOST_AUTO_TEST_CASE(options_that_cannot_work_are_refused_at_construction) {
  auto hub = Hub::make_posix();
  auto accept = [](std::string_view) { return Verdict::accept(); };
  Options zero_poll;
  zero_poll.poll_interval = 0ms;
  Options zero_size;
  zero_size.read_size_max = 0;
  BOOST_CHECK_THROW(FileWatcher("", accept, {}, hub), std::invalid_argument);
  BOOST_CHECK_THROW(FileWatcher("/x", accept, zero_poll, hub), std::invalid_argument);
  BOOST_CHECK_THROW(FileWatcher("/x", accept, zero_size, hub), std::invalid_argument);
  auto shared_zero = std::make_shared<const Options>(zero_poll);
  BOOST_CHECK_THROW(FileWatcher("/x", accept, shared_zero, hub), std::invalid_argument);
  BOOST_CHECK_THROW(VolumeWatcher("/x", [](const Snapshot&) { return Verdict::accept(); },
                                  shared_zero, {}, hub),
                    std::invalid_argument);
}

// Options given as a shared_ptr are shared, not copied: each watcher keeps a reference,
// and what they hold (on_decision here) serves every one of them. Null means the defaults.
BOOST_AUTO_TEST_CASE(shared_options_serve_every_watcher_given_them) {
  TempDir dir;
  write_file(dir / "a", "a1");
  write_file(dir / "b", "b1");
  auto hub = Hub::make_posix();
  std::mutex mu;
  std::vector<std::string> loaded;
  auto options = std::make_shared<Options>(fast_options());
  options->on_decision = [&](const Decision& d) {
    std::lock_guard lock(mu);
    if (d.kind == DecisionKind::loaded) loaded.emplace_back(d.path);
  };
  auto accept = [](std::string_view) { return Verdict::accept(); };
  FileWatcher a(dir / "a", accept, options, hub);
  VolumeWatcher whole(dir.path(), [](const Snapshot&) { return Verdict::accept(); }, options,
                      {}, hub);
  FileWatcher defaults(dir / "b", accept, std::shared_ptr<const Options>(), hub);
  BOOST_TEST(options.use_count() == 3);  // ours, and one per watcher given it
  a.start();
  whole.start();
  defaults.start();
  {
    std::lock_guard lock(mu);
    std::vector<std::string> expected{dir / "a", dir.path()};
    BOOST_TEST(loaded == expected, boost::test_tools::per_element());
  }
  BOOST_TEST(defaults.status().hash->hex() == Digest::of("b1").hex());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hub_scale)

// How many inotify instances this process holds (the kernel allows 128 per user).
int inotify_instances() {
  int count = 0;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(fd.path(), ec);
    if (!ec && target.string() == "anon_inode:inotify") ++count;
  }
  return count;
}

BOOST_AUTO_TEST_CASE(ten_thousand_watchers_share_one_inotify_instance) {
  TempDir dir;
  constexpr int kDirs = 100, kPerDir = 100;
  int instances_before = inotify_instances();
  Options quiet;  // default intervals: 10,000 safety polls every 100 ms would saturate the hub
  quiet.logger = std::make_shared<spdlog::logger>("quiet");  // no sinks: 10,000 "loaded" lines
  auto hub = Hub::make_posix();
  std::vector<std::unique_ptr<FileWatcher>> watchers;
  std::vector<std::unique_ptr<Recorder>> recorders;
  for (int d = 0; d < kDirs; ++d) {
    std::string sub = dir / ("d" + std::to_string(d));
    ::mkdir(sub.c_str(), 0755);
    for (int f = 0; f < kPerDir; ++f) {
      std::string path = sub + "/f" + std::to_string(f);
      write_file(path, "initial " + path);
      recorders.push_back(std::make_unique<Recorder>());
      watchers.push_back(std::make_unique<FileWatcher>(path, recorders.back()->callback(),
                                                       quiet, hub));
      watchers.back()->start();
    }
  }
  BOOST_TEST(hub->watch_count() == 10000u);
  BOOST_TEST(hub->volume_count() == std::size_t{kDirs});  // the keys of a directory share it
  // One per directory, plus the directories above them, shared, up to their filesystem's
  // root (where a rename would move every volume below).
  BOOST_TEST(hub->kernel_watch_count() == kDirs + directories_up_to_mount(dir.path()));
  BOOST_TEST(inotify_instances() == instances_before + 1);
  harness::PosixTree tree;
  for (int i = 0; i < 10000; i += 997) {
    std::string path = watchers[i]->path();
    BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(path, "changed " + path)));
    BOOST_REQUIRE(recorders[i]->wait_accepted("changed " + path));
  }
  // The status is committed just after the callback returns.
  for (int i = 0; i < 10000; i += 997)
    BOOST_TEST(eventually([&] { return watchers[i]->status().reloads == 1u; }));
  BOOST_TEST(watchers[1]->status().reloads == 0u);  // a neighbour in the same directory
  watchers.clear();
  BOOST_TEST(hub->watch_count() == 0u);
  BOOST_TEST(hub->kernel_watch_count() == 0u);
}


BOOST_AUTO_TEST_CASE(a_path_that_names_a_directory_twice_is_watched_and_released) {
  // "../dir/../dir/b" makes the walk name (root, "dir") twice. Found by fuzz_sim_ops: the
  // hub released both entries at the first and then read the freed directory key (ASan).
  TempDir root;
  std::string dir = root / "dir";
  ::mkdir(dir.c_str(), 0755);
  write_file(dir + "/b", "one");
  ::symlink("../dir/../dir/b", (dir + "/a").c_str());
  auto hub = Hub::make_posix();
  {
    Recorder rec;
    FileWatcher w(dir + "/a", rec.callback(), fast_options(), hub);
    w.start();
    harness::PosixTree tree;
    BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir + "/b", "two")));
    BOOST_REQUIRE(rec.wait_accepted("two"));
  }
  BOOST_TEST(hub->watch_count() == 0u);
  BOOST_TEST(hub->kernel_watch_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(stop_waits_for_a_callback_in_flight) {
  TempDir dir;
  write_file(dir / "app.conf", "one");
  std::latch entered(1);
  std::atomic<bool> release{false}, finished{false};
  FileWatcher w(
      dir / "app.conf",
      [&](std::string_view content) {
        if (content == "two") {
          entered.count_down();
          while (!release) std::this_thread::yield();
          finished = true;
        }
        return Verdict::accept();
      },
      fast_options(), Hub::make_posix());
  w.start();
  write_file(dir / "app.conf", "two");
  entered.wait();
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);  // long enough for stop() to be waiting
    release = true;
  });
  w.stop();
  BOOST_TEST(finished.load());  // stop() returned only after the callback did
  releaser.join();
  w.stop();  // idempotent
}

BOOST_AUTO_TEST_CASE(stop_from_inside_the_callback_does_not_deadlock) {
  TempDir dir;
  write_file(dir / "app.conf", "one");
  std::atomic<bool> stopped{false};
  FileWatcher* self = nullptr;
  FileWatcher w(
      dir / "app.conf",
      [&](std::string_view content) {
        if (content == "two") {
          self->stop();
          stopped = true;
        }
        return Verdict::accept();
      },
      fast_options(), Hub::make_posix());
  self = &w;
  w.start();
  write_file(dir / "app.conf", "two");
  BOOST_TEST(eventually([&] { return stopped.load(); }));
}

BOOST_AUTO_TEST_CASE(reloadable_is_read_from_many_threads_while_it_reloads) {
  TempDir dir;
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(dir.path());
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"n", "0"}})));
  struct Config {
    int n;
    std::string text;  // a heap member: a torn read would show as a mismatch
  };
  Reloadable<Config> config(
      dir / "n",
      [](std::string_view s) {
        int n = std::stoi(std::string(s));
        if (n < 0) throw std::invalid_argument("negative");
        return Config{n, "value " + std::to_string(n)};
      },
      fast_options(), Hub::make_posix());
  config.start();

  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, backwards{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&, t] {
      int last = 0;
      Reloadable<Config>::Reader reader(config);  // half the threads read through one
      while (!done) {
        auto snapshot = t % 2 ? reader.get() : config.get();
        if (snapshot->text != "value " + std::to_string(snapshot->n)) ++torn;
        if (snapshot->n < last) ++backwards;
        last = snapshot->n;
      }
    });
  for (int i = 1; i <= 30; ++i) {
    BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"n", std::to_string(i)}})));
    if (i % 10 == 0)
      BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"n", "-1"}})));  // refused
    BOOST_REQUIRE(eventually([&] { return config.get()->n == i || config.status().errors > 0; }));
  }
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"n", "31"}})));
  BOOST_REQUIRE(eventually([&] { return config.get()->n == 31; }));
  done = true;
  for (auto& r : readers) r.join();
  BOOST_TEST(torn.load() == 0);
  BOOST_TEST(backwards.load() == 0);
  BOOST_TEST(config.status().errors >= 1u);
}

BOOST_AUTO_TEST_SUITE_END()
