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
#include <vector>

#include "command_line.h"
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
  std::string dir;
  std::vector<std::string> items;
  hotreload::cli::CommandLine command_line(
      "kubelet_write",
      "Publishes the payload into DIR the way the kubelet updates a ConfigMap volume: a new "
      "..<timestamp> directory, the ..data symlink swapped by rename, KEY -> ..data/KEY links. "
      "Keys left out of a later payload are removed, as the kubelet removes them.");
  command_line.app().add_option("DIR", dir, "the volume")->required();
  command_line.app()
      .add_option("KEY=VALUE", items,
                  "a key and its value (\"\\n\" is a newline), or KEY=@FILE: the value read "
                  "from FILE")
      ->required()
      ->check(CLI::Validator(
          [](std::string& item) -> std::string {
            auto eq = item.find('=');
            if (eq == std::string::npos || eq == 0 || item.find('/') < eq)
              return "\"" + item + "\" is not KEY=VALUE (a key has no '/')";
            return {};
          },
          ""));
  auto parsed = command_line.parse(argc, argv);
  if (parsed.outcome != hotreload::cli::CommandLine::Result::Outcome::run)
    return command_line.finish(parsed);

  std::map<std::string, std::string> payload;
  for (const std::string& arg : items) {
    auto eq = arg.find('=');
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
