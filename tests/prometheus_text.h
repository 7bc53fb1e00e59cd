// A strict reader of the Prometheus text exposition format (0.0.4), for tests: it parses
// what a scraper would, undoing label escapes, and refuses what a scraper would refuse —
// so a renderer that forgets to escape, or emits a sample with no TYPE, fails the test.
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hotreload::test {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

inline std::vector<PromSample> parse_prometheus_text(const std::string& text) {
  std::vector<PromSample> samples;
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("line " + std::to_string(number) + ": " + why + ": " + line);
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
          type != "untyped")
        fail("bad TYPE");
      if (!typed.insert(name).second) fail("TYPE given twice");
      continue;
    }
    if (line[0] == '#') continue;
    PromSample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name.push_back(line[i++]);
    if (s.name.empty()) fail("no metric name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key;
        while (i < line.size() && line[i] != '=') key.push_back(line[i++]);
        if (i + 1 >= line.size() || line[i + 1] != '"') fail("label value not quoted");
        i += 2;
        std::string value;
        for (;; ++i) {
          if (i >= line.size()) fail("unterminated label value");
          char c = line[i];
          if (c == '"') break;
          if (c == '\\') {
            if (++i >= line.size()) fail("dangling backslash");
            char e = line[i];
            if (e == 'n') value.push_back('\n');
            else if (e == '\\' || e == '"') value.push_back(e);
            else fail("bad escape");
          } else {
            value.push_back(c);
          }
        }
        ++i;  // the closing quote
        if (!s.labels.emplace(key, value).second) fail("label given twice");
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) fail("unterminated label set");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') fail("no value");
    std::string value = line.substr(i + 1);
    if (value == "+Inf") s.value = 1.0 / 0.0;
    else {
      char* end = nullptr;
      s.value = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0') fail("value is not a number");
    }
    // A sample belongs to a TYPE'd family (histograms add _bucket, _sum, _count).
    std::string family = s.name;
    for (std::string suffix : {"_bucket", "_sum", "_count"})
      if (!typed.count(family) && family.size() > suffix.size() &&
          family.compare(family.size() - suffix.size(), suffix.size(), suffix) == 0)
        family.resize(family.size() - suffix.size());
    if (!typed.count(family)) fail("sample before its TYPE line");
    samples.push_back(std::move(s));
  }
  return samples;
}

// The value of the one sample with this name and these labels (a subset match).
inline std::optional<double> prom_value(const std::vector<PromSample>& samples,
                                        const std::string& name,
                                        const std::map<std::string, std::string>& labels = {}) {
  std::optional<double> found;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (!match) continue;
    if (found) throw std::runtime_error("more than one sample matches " + name);
    found = s.value;
  }
  return found;
}

}  // namespace hotreload::test
