#include "writers.h"

#include <cstdio>
#include <set>

namespace hotreload::harness {

namespace {

std::string join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

}  // namespace

std::string KubeletWriter::next_timestamp_dir() {
  // The kubelet uses MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."));
  // a counter keeps the names unique and the runs reproducible.
  ++generation_;
  char name[64];
  std::snprintf(name, sizeof name, "..2026_11_26_00_00_00.%09llu",
                static_cast<unsigned long long>(generation_));
  return name;
}

std::vector<TreeOp> KubeletWriter::plan(MutableTree& tree,
                                        const std::map<std::string, std::string>& payload) {
  return plan(tree, payload, file_mode_);
}

std::vector<TreeOp> KubeletWriter::plan(MutableTree& tree,
                                        const std::map<std::string, std::string>& payload,
                                        unsigned file_mode) {
  using K = TreeOp::Kind;
  std::vector<TreeOp> ops;
  const std::string data = join(dir_, "..data");
  auto old_target = tree.read_link(data);

  std::string ts = next_timestamp_dir();
  while (tree.exists(join(dir_, ts))) ts = next_timestamp_dir();
  const std::string ts_path = join(dir_, ts);
  ops.push_back({.kind = K::make_dir, .path = ts_path, .mode = 0755});
  std::set<std::string> made, top_level;
  for (const auto& [key, content] : payload) {
    top_level.insert(key.substr(0, key.find('/')));
    for (auto slash = key.find('/'); slash != std::string::npos; slash = key.find('/', slash + 1))
      if (made.insert(key.substr(0, slash)).second)
        ops.push_back({.kind = K::make_dir, .path = join(ts_path, key.substr(0, slash)), .mode = 0755});
    ops.push_back({.kind = K::write_file, .path = join(ts_path, key), .content = content,
                   .mode = file_mode});
    ops.push_back({.kind = K::chmod, .path = join(ts_path, key), .mode = file_mode});
  }
  ops.push_back({.kind = K::symlink, .path = join(dir_, "..data_tmp"), .other = ts});
  ops.push_back({.kind = K::rename, .path = join(dir_, "..data_tmp"), .other = data});
  for (const std::string& name : top_level)
    if (!tree.exists(join(dir_, name)))
      ops.push_back({.kind = K::symlink, .path = join(dir_, name), .other = "..data/" + name});
  if (old_target) {
    for (const std::string& old_name : tree.list(join(dir_, *old_target)))
      if (!top_level.count(old_name)) ops.push_back({.kind = K::remove, .path = join(dir_, old_name)});
    ops.push_back({.kind = K::remove_all, .path = join(dir_, *old_target)});
  }
  return ops;
}

std::vector<TreeOp> plan_editor_save(const std::string& path, const std::string& content) {
  using K = TreeOp::Kind;
  auto slash = path.rfind('/');
  std::string temp = path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".swp~";
  return {{.kind = K::write_file, .path = temp, .content = content},
          {.kind = K::rename, .path = temp, .other = path}};
}

std::vector<TreeOp> plan_in_place_write(const std::string& path, const std::string& content,
                                        std::size_t chunks) {
  using K = TreeOp::Kind;
  std::vector<TreeOp> ops{{.kind = K::open_trunc, .path = path}};
  if (chunks == 0) chunks = 1;
  std::size_t step = (content.size() + chunks - 1) / chunks;
  for (std::size_t at = 0; at < content.size(); at += step)
    ops.push_back({.kind = K::append, .path = path, .content = content.substr(at, step)});
  ops.push_back({.kind = K::close, .path = path});
  return ops;
}

}  // namespace hotreload::harness
