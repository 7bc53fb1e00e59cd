// kubelet_write: publishes a ConfigMap payload into a directory exactly the way the
// kubelet's AtomicWriter does (a new ..<timestamp> directory, the ..data symlink swapped
// by rename, key -> ..data/key links), so that a real `hotreload watch` can be driven by
// a shell script the way it is driven in a pod.
//
//   kubelet_write DIR KEY=VALUE...     value given inline ("\n" is a newline)
//   kubelet_write DIR KEY=@FILE...     value read from FILE
//
// Keys left out of a later payload are removed, as the kubelet removes them.
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "posix_tree.h"
#include "writers.h"

namespace {

std::string unescape_newlines(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out.push_back('\n');
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: kubelet_write DIR KEY=VALUE|KEY=@FILE...\n"
                 "Publishes the payload into DIR the way the kubelet updates a ConfigMap volume.\n";
    return 2;
  }
  std::string dir = argv[1];
  std::map<std::string, std::string> payload;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || arg.find('/') < eq) {
      std::cerr << "kubelet_write: \"" << arg << "\" is not KEY=VALUE (a key has no '/')\n";
      return 2;
    }
    std::string key = arg.substr(0, eq), value = arg.substr(eq + 1);
    if (!value.empty() && value[0] == '@') {
      std::ifstream in(value.substr(1), std::ios::binary);
      if (!in) {
        std::cerr << "kubelet_write: cannot read " << value.substr(1) << "\n";
        return 2;
      }
      std::stringstream text;
      text << in.rdbuf();
      value = text.str();
    } else {
      value = unescape_newlines(value);
    }
    payload[key] = value;
  }
  hotreload::harness::PosixTree tree;
  hotreload::harness::KubeletWriter writer(dir);
  if (auto ec = apply_all(tree, writer.plan(tree, payload))) {
    std::cerr << "kubelet_write: " << dir << ": " << ec.message() << "\n";
    return 1;
  }
  return 0;
}
