// The simulated filesystem and event source against the kernel (issue 10 §5): the same
// generated op sequences are applied to SimFilesystem + SimEvents and to a real tmpfs
// directory with real inotify. After every op the two must agree on its result (the
// errno), and on the events it raised, normalised (descriptors named by the directory they
// were added for, rename cookies by their order of appearance); at the end, on the whole
// tree. RapidCheck shrinks a divergence to the shortest sequence that shows it.
#include <rapidcheck.h>
#include <rapidcheck/boost_test.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "hotreload/event_source.h"
#include "posix/posix_seams.h"
#include "posix_tree.h"
#include "sim_clock.h"
#include "sim_events.h"
#include "sim_filesystem.h"
#include "test_support.h"

namespace hotreload::harness {
namespace {

using namespace std::chrono_literals;
using K = TreeOp::Kind;

// Where the real side runs: tmpfs, as a ConfigMap volume is.
std::string tmpfs_root() { return std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp"; }

const std::vector<std::string> kDirs = {"/d", "/d/a", "/d/b", "/d/a/c"};
const std::vector<std::string> kNames = {"f", "g", "l", "a", "b"};

rc::Gen<std::string> a_path() {
  return rc::gen::apply([](const std::string& dir, const std::string& name) { return dir + "/" + name; },
                        rc::gen::elementOf(kDirs), rc::gen::elementOf(kNames));
}

rc::Gen<TreeOp> an_op() {
  return rc::gen::exec([] {
    TreeOp op;
    op.kind = *rc::gen::elementOf(std::vector<K>{K::make_dir, K::write_file, K::write_file, K::open_trunc,
                                                 K::append, K::close, K::chmod, K::symlink,
                                                 K::rename, K::rename, K::remove, K::remove_all});
    op.path = *rc::gen::weightedElement<std::string>({{1, "/d/a"}, {1, "/d/b"}, {1, "/d/a/c"},
                                                      {6, *a_path()}});
    if (op.kind == K::rename) op.other = *a_path();
    if (op.kind == K::symlink) op.other = *rc::gen::elementOf(std::vector<std::string>{"f", "../f", "a", "missing"});
    if (op.kind == K::write_file || op.kind == K::append)
      op.content = *rc::gen::elementOf(std::vector<std::string>{"", "x", "hello\n"});
    op.mode = op.kind == K::make_dir ? 0755u : *rc::gen::elementOf(std::vector<unsigned>{0644u, 0600u});
    return op;
  });
}

std::string show(const TreeOp& op) { return to_string(op); }

// Events as text, descriptors by the path they were added for, cookies by first use.
class Normaliser {
 public:
  void watched(int wd, const std::string& path) { names_[wd] = path; }
  std::string operator()(const Event& e) {
    std::ostringstream out;
    out << (names_.count(e.wd) ? names_[e.wd] : "wd?" + std::to_string(e.wd)) << " " << std::hex
        << e.mask << std::dec;
    if (!e.name.empty()) out << " " << e.name;
    if (e.cookie) {
      auto [it, fresh] = cookies_.try_emplace(e.cookie, cookies_.size() + 1);
      out << " cookie#" << it->second;
    }
    return out.str();
  }

 private:
  std::map<int, std::string> names_;
  std::map<uint32_t, std::size_t> cookies_;
};

struct Side {
  MutableTree& tree;
  EventSource& events;
  std::string prefix;  // "" for the simulation, the real directory for the kernel
  Normaliser normalise;

  std::error_code apply(TreeOp op) {
    op.path = prefix + op.path;
    if (op.kind == K::rename) op.other = prefix + op.other;
    return tree.apply(op);
  }
  bool watch(const std::string& dir) {
    auto wd = events.add_watch(prefix + dir);
    if (wd) normalise.watched(*wd, dir);
    return wd.ok();
  }
  std::vector<std::string> drain() {
    std::vector<Event> batch;
    events.wait(0ns, batch);
    std::vector<std::string> out;
    for (const Event& e : batch) out.push_back(normalise(e));
    return out;
  }
};

// The tree as text: each entry's path, kind, and content or target, as root sees it
// (permissions aside: the simulation's oracle on one side, std::filesystem on the other).
struct TreeView {
  std::function<std::vector<std::string>(const std::string&)> list;
  std::function<char(const std::string&)> kind;  // 'd', 'f', 'l', '?'
  std::function<std::string(const std::string&)> content;  // a file's, a link's target
};

void describe_tree(const TreeView& view, const std::string& dir, std::string& out) {
  for (const std::string& name : view.list(dir)) {
    std::string path = dir + "/" + name;
    char kind = view.kind(path);
    out += path + " " + kind;
    if (kind == 'f' || kind == 'l') out += " [" + view.content(path) + "]";
    out += "\n";
    if (kind == 'd') describe_tree(view, path, out);
  }
}

TreeView sim_view(SimFilesystem& fs) {
  return {[&fs](const std::string& d) { return fs.list(d); },
          [&fs](const std::string& p) {
            if (fs.read_link(p)) return 'l';
            if (fs.peek(p).regular) return 'f';
            return fs.exists(p) ? 'd' : '?';
          },
          [&fs](const std::string& p) {
            auto target = fs.read_link(p);
            return target ? *target : fs.peek(p).content;
          }};
}

TreeView real_view(PosixTree& tree, const std::string& root) {
  namespace fs = std::filesystem;
  return {[&tree, root](const std::string& d) { return tree.list(root + d); },
          [root](const std::string& p) {
            auto st = fs::symlink_status(root + p);
            return fs::is_symlink(st) ? 'l' : fs::is_regular_file(st) ? 'f'
                                     : fs::is_directory(st)    ? 'd'
                                                               : '?';
          },
          [root](const std::string& p) {
            std::error_code ec;
            if (fs::is_symlink(fs::symlink_status(root + p, ec))) return fs::read_symlink(root + p, ec).string();
            std::ifstream in(root + p, std::ios::binary);
            return std::string(std::istreambuf_iterator<char>(in), {});
          }};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sim_differential)

RC_BOOST_PROP(the_simulation_raises_what_the_kernel_raises, ()) {
  const auto ops = *rc::gen::container<std::vector<TreeOp>>(an_op());
  ::umask(022);  // modes as the simulation gives them
  std::string root = tmpfs_root() + "/hotreload-diff-" + std::to_string(::getpid());
  std::filesystem::remove_all(root);
  std::filesystem::create_directory(root);
  struct Cleanup {
    std::string r;
    ~Cleanup() { std::filesystem::remove_all(r); }
  } cleanup{root};

  auto clock = std::make_shared<SimClock>();
  SimFilesystem sim_fs(clock);
  SimEvents sim_events(sim_fs, clock, 1);
  PosixTree real_tree;
  posix::InotifyEventSource real_events;
  Side sim{sim_fs, sim_events, ""};
  Side real{real_tree, real_events, root};
  for (Side* s : {&sim, &real}) {
    RC_ASSERT(!s->apply({.kind = K::make_dir, .path = "/d", .mode = 0755}));
    s->watch("/d");
  }
  for (const TreeOp& op : ops) {
    std::error_code sim_ec = sim.apply(op);
    std::error_code real_ec = real.apply(op);
    RC_LOG() << show(op) << ": sim " << sim_ec.message() << ", kernel " << real_ec.message() << "\n";
    RC_ASSERT(sim_ec == real_ec);
    // The simulation watches as a user that permissions can stop; the kernel side runs as
    // whoever runs the tests (root in CI). Only what both can watch is watched.
    if (!sim_ec && op.kind == K::make_dir && sim.watch(op.path)) RC_ASSERT(real.watch(op.path));
    auto sim_seen = sim.drain();
    auto real_seen = real.drain();
    // rm -rf removes a directory's entries in the order readdir gives them, which tmpfs
    // and the simulation choose differently; every other op is compared in order.
    if (op.kind == K::remove_all) {
      std::sort(sim_seen.begin(), sim_seen.end());
      std::sort(real_seen.begin(), real_seen.end());
    }
    RC_ASSERT(sim_seen == real_seen);
  }
  std::string sim_tree, real_tree_text;
  describe_tree(sim_view(sim_fs), "/d", sim_tree);
  describe_tree(real_view(real_tree, root), "/d", real_tree_text);
  RC_LOG() << "simulated tree:\n" << sim_tree << "real tree:\n" << real_tree_text;
  RC_ASSERT(sim_tree == real_tree_text);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace hotreload::harness
