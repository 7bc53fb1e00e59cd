// VolumeWatcher on the real filesystem: a kubelet volume's keys arrive together, never
// torn, whatever the publishing rate; a plain directory's keys come and go; Reloadable<T>
// parses a whole volume; keys of one directory share one volume and one kernel watch.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <map>
#include <thread>

#include "hotreload/errors.h"
#include "hotreload/hub.h"
#include "hotreload/reloadable.h"
#include "hotreload/volume_watcher.h"
#include "posix_tree.h"
#include "test_support.h"
#include "writers.h"

using namespace hotreload;
using namespace hotreload::test;

namespace {

using Keys = std::map<std::string, std::string>;


// Records every snapshot offered; refuses those with a key holding "bad".
class SnapshotRecorder {
 public:
  SnapshotCallback callback() {
    return [this](const Snapshot& s) {
      std::lock_guard lock(mu_);
      seen_.push_back(s);
      changed_.notify_all();
      for (const auto& [key, entry] : s.keys)
        if (entry.content == "bad") return Verdict::reject(key + " is bad");
      accepted_.push_back(snapshot_keys(s));
      return Verdict::accept();
    };
  }
  bool wait_accepted(const Keys& expected, std::chrono::milliseconds bound = kPatience) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, bound,
                             [&] { return !accepted_.empty() && accepted_.back() == expected; });
  }
  std::vector<Snapshot> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Snapshot> seen_;
  std::vector<Keys> accepted_;
};

Options quiet() {
  Options o;
  o.logger = std::make_shared<spdlog::logger>("quiet");
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(volume_watcher)

BOOST_AUTO_TEST_CASE(a_publish_reaches_the_callback_as_one_snapshot) {
  TempDir dir;
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(dir.path());
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"nginx.conf", "n1"}, {"upstream.conf", "u1"}})));
  SnapshotRecorder rec;
  VolumeWatcher w(dir.path(), rec.callback(), quiet(), {}, Hub::make_posix());
  w.start();
  BOOST_TEST(rec.wait_accepted({{"nginx.conf", "n1"}, {"upstream.conf", "u1"}}));
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"nginx.conf", "n2"}, {"upstream.conf", "u2"},
                                                     {"rules/extra.conf", "e2"}})));
  BOOST_TEST(rec.wait_accepted({{"nginx.conf", "n2"}, {"upstream.conf", "u2"}, {"rules/extra.conf", "e2"}}));
  std::vector<Snapshot> seen = rec.seen();
  BOOST_REQUIRE_EQUAL(seen.size(), 2u);
  BOOST_TEST(seen[1].added == std::vector<std::string>{"rules/extra.conf"});
  BOOST_TEST((seen[1].changed == std::vector<std::string>{"nginx.conf", "upstream.conf"}));
  BOOST_TEST(eventually([&] { return w.status().reloads == 1u; }));
  BOOST_TEST(w.status().hash == seen[1].hash);
  BOOST_TEST(w.status().volume == dir.path());
}

BOOST_AUTO_TEST_CASE(a_publishing_storm_never_tears_a_snapshot) {
  TempDir dir;
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(dir.path());
  auto pair = [](int n) {
    return Keys{{"a.yaml", "v" + std::to_string(n)}, {"b.yaml", "v" + std::to_string(n)}};
  };
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, pair(0))));
  std::atomic<int> torn{0}, snapshots{0};
  Options o = quiet();
  o.mode = Mode::poll;  // polls land at every phase of a publish, not only after its events
  o.poll_interval = std::chrono::milliseconds(1);
  VolumeWatcher w(dir.path(), [&](const Snapshot& s) {
    ++snapshots;
    if (!s.find("a.yaml") || !s.find("b.yaml") || *s.find("a.yaml") != *s.find("b.yaml")) ++torn;
    return Verdict::accept();
  }, o, {}, Hub::make_posix());
  w.start();
  constexpr int kPublishes = 300;
  for (int n = 1; n <= kPublishes; ++n) BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, pair(n))));
  // Converged to the last publish (as a fresh watcher reads it), and no snapshot ever
  // mixed two publishes.
  SnapshotRecorder last;
  VolumeWatcher probe(dir.path(), last.callback(), quiet(), {}, Hub::make_posix());
  probe.start();
  BOOST_REQUIRE(!last.seen().empty());
  BOOST_TEST(eventually([&] { return w.status().hash == last.seen().front().hash; }));
  BOOST_TEST(torn.load() == 0);
  BOOST_TEST(snapshots.load() > 1);
}

BOOST_AUTO_TEST_CASE(a_plain_directory_follows_its_files) {
  TempDir dir;
  write_file(dir / "a.conf", "a1");
  write_file(dir / ".a.conf.swp", "editor");
  SnapshotRecorder rec;
  VolumeWatcher w(dir.path(), rec.callback(), quiet(), {}, Hub::make_posix());
  w.start();
  BOOST_TEST(rec.wait_accepted({{"a.conf", "a1"}}));
  harness::PosixTree tree;
  BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir / "b.conf", "b1")));
  BOOST_TEST(rec.wait_accepted({{"a.conf", "a1"}, {"b.conf", "b1"}}));
  BOOST_REQUIRE(::unlink((dir / "a.conf").c_str()) == 0);
  BOOST_TEST(rec.wait_accepted({{"b.conf", "b1"}}));
  BOOST_TEST(rec.seen().back().removed == std::vector<std::string>{"a.conf"});
  // A refused snapshot keeps the whole previous one.
  BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir / "c.conf", "bad")));
  BOOST_TEST(eventually([&] { return !w.status().last_error.empty(); }));
  BOOST_TEST(w.status().last_error == "content rejected: c.conf is bad");
  BOOST_REQUIRE(!apply_all(tree, harness::plan_editor_save(dir / "c.conf", "c1")));
  BOOST_TEST(rec.wait_accepted({{"b.conf", "b1"}, {"c.conf", "c1"}}));
}

BOOST_AUTO_TEST_CASE(reloadable_parses_a_whole_volume) {
  TempDir dir;
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(dir.path());
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"host", "db1"}, {"port", "5432"}})));
  struct Endpoint {
    std::string host;
    int port;
  };
  Reloadable<Endpoint> endpoint(dir.path(), [](const Snapshot& s) {
    if (!s.find("host") || !s.find("port")) throw std::invalid_argument("host and port needed");
    return Endpoint{*s.find("host"), std::stoi(*s.find("port"))};
  }, quiet(), {}, Hub::make_posix());
  endpoint.start();
  BOOST_TEST(endpoint.get()->host == "db1");
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"host", "db2"}, {"port", "6432"}})));
  BOOST_TEST(eventually([&] { return endpoint.get()->host == "db2"; }));
  BOOST_TEST(endpoint.get()->port == 6432);  // from the same publish as the host
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"host", "db3"}})));  // refused whole
  BOOST_TEST(eventually([&] { return !endpoint.status().last_error.empty(); }));
  BOOST_TEST(endpoint.get()->host == "db2");
  BOOST_TEST(endpoint.status().last_error == "content rejected: host and port needed");
}

BOOST_AUTO_TEST_CASE(keys_of_one_directory_share_one_volume_and_one_kernel_watch) {
  TempDir dir;
  harness::PosixTree tree;
  std::string vol = dir / "vol";
  ::mkdir(vol.c_str(), 0755);
  harness::KubeletWriter kubelet(vol);
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"a", "1"}, {"b", "1"}})));
  auto hub = Hub::make_posix();
  Recorder ra, rb;
  SnapshotRecorder rv;
  FileWatcher a(vol + "/a", ra.callback(), quiet(), hub);
  FileWatcher b(vol + "/b", rb.callback(), quiet(), hub);
  VolumeWatcher v(vol, rv.callback(), quiet(), {}, hub);
  a.start();
  b.start();
  v.start();
  BOOST_TEST(hub->watch_count() == 3u);
  BOOST_TEST(hub->volume_count() == 1u);
  BOOST_TEST(eventually([&] {
    return hub->kernel_watch_count() == directories_up_to_mount(vol);
  }));
  BOOST_REQUIRE(!apply_all(tree, kubelet.plan(tree, {{"a", "2"}, {"b", "2"}})));
  BOOST_TEST(ra.wait_accepted("2"));
  BOOST_TEST(rb.wait_accepted("2"));
  BOOST_TEST(rv.wait_accepted({{"a", "2"}, {"b", "2"}}));
  // A different policy is a volume of its own.
  Options polling = quiet();
  polling.mode = Mode::poll;
  FileWatcher c(vol + "/a", Recorder().callback(), polling, hub);
  c.start();
  BOOST_TEST(hub->volume_count() == 2u);
  c.stop();
  v.stop();
  a.stop();
  b.stop();
  BOOST_TEST(hub->volume_count() == 0u);
  BOOST_TEST(hub->kernel_watch_count() == 0u);
}

BOOST_AUTO_TEST_CASE(start_names_the_directory_and_the_reason) {
  TempDir dir;
  VolumeWatcher missing(dir / "absent", [](const Snapshot&) { return Verdict::accept(); }, quiet(),
                        {}, Hub::make_posix());
  try {
    missing.start();
    BOOST_FAIL("started on a missing directory");
  } catch (const StartError& e) {
    BOOST_TEST(std::string(e.what()).find(dir / "absent") != std::string::npos);
    BOOST_TEST(e.code() == std::errc::no_such_file_or_directory);
  }
  KeySelection none;
  none.keys_max = 0;
  BOOST_CHECK_THROW(VolumeWatcher(dir.path(), [](const Snapshot&) { return Verdict::accept(); },
                                  quiet(), none),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
