#include "render.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "name_text.h"

namespace hotreload::cli {

namespace {

namespace fs = std::filesystem;

bool name_start(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

std::size_t line_of(std::string_view text, std::size_t at) {
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

std::string sys_error(const std::string& what, int error) { return what + ": " + std::strerror(error); }

// Writes all of content to fd; false with errno set on failure.
bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<std::string> write_new_file(const std::string& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return sys_error("cannot create " + path, errno);
  bool ok = write_all(fd, content);
  int error = errno;
  ::close(fd);
  if (!ok) return sys_error("cannot write " + path, error);
  return std::nullopt;
}

// Atomically points link at target: a new link beside it, renamed over it.
std::optional<std::string> replace_link(const std::string& link, const std::string& target) {
  const std::string temporary = link + "_tmp";
  ::unlink(temporary.c_str());
  if (::symlink(target.c_str(), temporary.c_str()) != 0)
    return sys_error("cannot make the link " + temporary, errno);
  if (::rename(temporary.c_str(), link.c_str()) != 0) {
    int error = errno;
    ::unlink(temporary.c_str());
    return sys_error("cannot rename " + temporary + " to " + link, error);
  }
  return std::nullopt;
}

}  // namespace

Lookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

Parsed<std::string> envsubst(std::string_view text, const Lookup& lookup) {
  std::string out;
  out.reserve(text.size());
  auto error = [](std::string why) { return Parsed<std::string>(std::in_place_index<1>, std::move(why)); };
  for (std::size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '$') {  // $$: a literal $
      out.push_back('$');
      i += 2;
      continue;
    }
    std::string_view name, fallback;
    bool braced = next == '{', has_default = false;
    std::size_t end = 0;  // just past the reference
    if (braced) {
      std::size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos)
        return error("line " + std::to_string(line_of(text, i)) + ": \"${\" without its \"}\"");
      std::string_view inside = text.substr(i + 2, close - i - 2);
      auto dash = inside.find(":-");
      name = inside.substr(0, dash);
      if (dash != std::string_view::npos) {
        has_default = true;
        fallback = inside.substr(dash + 2);
      }
      if (name.empty() || !name_start(name[0]) || !std::all_of(name.begin(), name.end(), name_char))
        return error("line " + std::to_string(line_of(text, i)) + ": \"${" + std::string(inside) +
                     "}\" is not a variable (a name of letters, digits and '_', optionally "
                     "with :-default)");
      end = close + 1;
    } else {
      if (!name_start(next)) {  // $1, "$ ": not a variable
        out.push_back('$');
        ++i;
        continue;
      }
      end = i + 1;
      while (end < text.size() && name_char(text[end])) ++end;
      name = text.substr(i + 1, end - i - 1);
    }
    std::optional<std::string> value = lookup(name);
    if (has_default && (!value || value->empty())) value = std::string(fallback);
    if (!value)
      return error("line " + std::to_string(line_of(text, i)) + ": " + std::string(name) +
                   " is not set (give it a default: ${" + std::string(name) + ":-value})");
    out += *value;
    i = end;
  }
  return Parsed<std::string>(std::in_place_index<0>, std::move(out));
}

std::variant<Snapshot, std::string> envsubst(const Snapshot& snapshot, const Lookup& lookup) {
  Snapshot rendered = snapshot;
  for (auto& [key, entry] : rendered.keys) {
    auto text = envsubst(entry.content, lookup);
    if (auto* why = std::get_if<1>(&text)) return escape_name(key) + ": " + *why;
    entry.content = std::move(std::get<0>(text));
    entry.hash = Digest::of(entry.content);
  }
  return rendered;
}

std::optional<std::string> write_file_atomically(const std::string& path, std::string_view content) {
  const fs::path target(path);
  std::string temporary = (target.parent_path() / ("." + target.filename().string() + ".XXXXXX")).string();
  int fd = ::mkstemp(temporary.data());
  if (fd < 0) return sys_error("cannot create a file beside " + path, errno);
  bool ok = ::fchmod(fd, 0644) == 0 && write_all(fd, content);
  int error = errno;
  ::close(fd);
  if (ok && ::rename(temporary.c_str(), path.c_str()) != 0) {
    ok = false;
    error = errno;
  }
  if (ok) return std::nullopt;
  ::unlink(temporary.c_str());
  return sys_error("cannot write " + path, error);
}

std::optional<std::string> publish_directory(const std::string& dir, const Snapshot& snapshot) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot make " + dir + ": " + ec.message();
  std::string fresh = dir + "/..render_XXXXXX";
  if (!::mkdtemp(fresh.data())) return sys_error("cannot make a directory in " + dir, errno);
  std::set<std::string> top;
  for (const auto& [key, entry] : snapshot.keys) {
    const fs::path file = fs::path(fresh) / key;
    fs::create_directories(file.parent_path(), ec);
    std::optional<std::string> why;
    if (ec) why = "cannot make " + file.parent_path().string() + ": " + ec.message();
    if (!why) why = write_new_file(file.string(), entry.content);
    if (why) {
      fs::remove_all(fresh, ec);
      return why;
    }
    top.insert(key.substr(0, key.find('/')));
  }
  ::chmod(fresh.c_str(), 0755);
  const std::string data = dir + "/..data";
  std::string previous = fs::read_symlink(data, ec).string();  // empty if none
  if (auto why = replace_link(data, fs::path(fresh).filename().string())) {
    fs::remove_all(fresh, ec);
    return why;
  }
  // Each top-level name once, through ..data; the names of removed keys go.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("..") || top.contains(name) || !entry.is_symlink()) continue;
    if (fs::read_symlink(entry.path(), ec).string().starts_with("..data/")) fs::remove(entry.path(), ec);
  }
  for (const std::string& name : top) {
    const std::string link = dir + "/" + name;
    struct stat st {};
    if (::lstat(link.c_str(), &st) == 0) continue;
    if (::symlink(("..data/" + name).c_str(), link.c_str()) != 0)
      return sys_error("cannot make the link " + link, errno);
  }
  if (!previous.empty() && previous.starts_with("..render_")) fs::remove_all(dir + "/" + previous, ec);
  return std::nullopt;
}

}  // namespace hotreload::cli
