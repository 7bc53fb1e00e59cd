#include "snapshot_watch.h"

#include <fnmatch.h>

#include <algorithm>

#include "consistent_read.h"
#include "hotreload/errors.h"

namespace hotreload {

namespace {

// Nested directories followed at most this deep (symlinked directories are never followed).
constexpr int kDepthMax = 32;

bool glob_matches(const std::string& pattern, const std::string& key) {
  // A pattern without '/' matches the file's name, at any depth.
  if (pattern.find('/') == std::string::npos)
    return ::fnmatch(pattern.c_str(), name_of(key).c_str(), 0) == 0;
  return ::fnmatch(pattern.c_str(), key.c_str(), FNM_PATHNAME) == 0;
}

bool selected(const KeySelection& sel, const std::string& key) {
  auto matches = [&](const std::string& p) { return glob_matches(p, key); };
  if (!sel.include.empty() && std::none_of(sel.include.begin(), sel.include.end(), matches))
    return false;
  return std::none_of(sel.exclude.begin(), sel.exclude.end(), matches);
}

class Surveyor {
 public:
  Surveyor(Filesystem& fs, const KeySelection& sel, SnapshotSurvey& out)
      : fs_(fs), sel_(sel), out_(out) {}

  // Adds the keys under dir (relative names prefixed by prefix). False on an error.
  bool list(const std::string& dir, const std::string& prefix, int depth) {
    auto names = fs_.read_directory(dir);
    if (!names) return failed(names.error(), dir);
    for (const std::string& name : *names) {
      // The kubelet's payload is all keys; elsewhere hidden names are editors' debris.
      if (!out_.kubelet && name.front() == '.' && !sel_.hidden) continue;
      std::string key = prefix.empty() ? name : prefix + "/" + name;
      std::string path = join_path(dir, name);
      auto st = fs_.lstat(path);
      if (!st) {
        // Listed a moment ago: a writer at work.
        if (is_missing(st.error())) return failed(make_error_code(Errc::unstable), path);
        return failed(st.error(), path);
      }
      switch (st->type) {
        case FileType::directory:
          if (!out_.kubelet && !sel_.recursive) break;
          if (depth >= kDepthMax) break;
          if (!out_.kubelet) out_.interests.push_back({path, ""});
          if (!list(path, key, depth + 1)) return false;
          break;
        case FileType::regular:
          if (selected(sel_, key)) add(key, path, Signature{{}, *st});
          break;
        case FileType::symlink:
          if (selected(sel_, key) && !follow(key, path)) return false;
          break;
        case FileType::other: break;
      }
    }
    return true;
  }

 private:
  // A symlink is a key when it leads to a regular file; a dangling or looping one, or one
  // to a directory or a device, is no file (yet). One that cannot be resolved (EACCES, EIO
  // on the way) may well lead to a key: the survey fails, and the active snapshot stays.
  bool follow(const std::string& key, const std::string& path) {
    PathWalk walk = walk_path(fs_, path);
    out_.interests.insert(out_.interests.end(), walk.interests.begin(), walk.interests.end());
    if (!walk.error) add(key, walk.file, std::move(walk.signature));
    else if (!leads_to_no_file(walk.error)) return failed(walk.error, walk.error_path);
    return true;
  }

  static bool leads_to_no_file(std::error_code ec) {
    return is_missing(ec) || ec == std::errc::too_many_symbolic_link_levels ||
           ec == std::errc::is_a_directory || ec == Errc::not_regular_file;
  }

  void add(const std::string& key, const std::string& file, Signature signature) {
    out_.signature.keys.emplace_back(key, std::move(signature));
    out_.files.push_back(file);
  }

  bool failed(std::error_code ec, const std::string& where) {
    out_.error = ec;
    out_.error_path = where;
    return false;
  }

  Filesystem& fs_;
  const KeySelection& sel_;
  SnapshotSurvey& out_;
};

// The links directly in dir are the same, in the same order, before and now.
bool same_links_in(std::string_view dir, const std::vector<Link>& before, const std::vector<Link>& now) {
  auto in_dir = [&](const Link& l) { return directly_in(dir, l.path); };
  auto b = std::find_if(before.begin(), before.end(), in_dir);
  auto n = std::find_if(now.begin(), now.end(), in_dir);
  for (; b != before.end() && n != now.end(); b = std::find_if(std::next(b), before.end(), in_dir),
                                              n = std::find_if(std::next(n), now.end(), in_dir))
    if (!(*b == *n)) return false;
  return b == before.end() && n == now.end();
}

// Keys of nested directories were added depth first; the signature is kept in key order.
void sort_keys(SnapshotSurvey& s) {
  std::vector<std::size_t> order(s.files.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto& keys = s.signature.keys;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return keys[a].first < keys[b].first; });
  std::vector<std::pair<std::string, Signature>> sorted_keys;
  std::vector<std::string> sorted_files;
  for (std::size_t i : order) {
    sorted_keys.push_back(std::move(keys[i]));
    sorted_files.push_back(std::move(s.files[i]));
  }
  keys = std::move(sorted_keys);
  s.files = std::move(sorted_files);
}

void check_limits(SnapshotSurvey& s, const KeySelection& sel, const std::string& root) {
  if (s.files.size() > sel.keys_max) {
    s.error = make_error_code(Errc::too_many_keys);
    s.error_path = root;
    return;
  }
  uint64_t total = 0;
  for (const auto& [key, signature] : s.signature.keys) total += signature.file.size;
  if (total > sel.total_size_max) {
    s.error = make_error_code(Errc::snapshot_too_large);
    s.error_path = root;
  }
}

// A survey can fail on a tree caught between two steps of a writer; a failure counts only
// when a fresh survey fails the same way (as for a key's walk).
SnapshotSurvey settled_survey(LookupCache& fs, const std::string& dir, const KeySelection& sel) {
  SnapshotSurvey survey = survey_snapshot(fs, dir, sel);
  for (int attempt = 1; survey.error && attempt < kReadAttempts; ++attempt) {
    fs.forget();
    SnapshotSurvey again = survey_snapshot(fs, dir, sel);
    if (again.error == survey.error && again.error_path == survey.error_path) break;
    survey = std::move(again);
  }
  return survey;
}

}  // namespace

SnapshotSurvey survey_snapshot(Filesystem& fs, const std::string& dir, const KeySelection& sel) {
  SnapshotSurvey s;
  std::string data = join_path(dir, "..data");
  auto data_stat = fs.lstat(data);
  s.kubelet = data_stat && data_stat->type == FileType::symlink;
  PathWalk root = walk_path(fs, s.kubelet ? data : dir, WalkTarget::directory);
  s.interests = std::move(root.interests);
  if (root.error) {
    s.error = root.error;
    s.error_path = root.error_path;
    return s;
  }
  s.signature.root_links = std::move(root.signature.links);
  // A plain directory is watched as a whole: any name in it may be a new key.
  if (!s.kubelet) s.interests.push_back({root.file, ""});
  if (!Surveyor(fs, sel, s).list(root.file, "", 0)) return s;
  sort_keys(s);
  check_limits(s, sel, root.file);
  return s;
}

struct SnapshotWatch::Look {
  SnapshotSurvey survey;
  std::vector<std::string> contents;  // parallel to survey.files, when read
  std::error_code error;
  std::string error_path;
  bool unchanged = false;
};

SnapshotWatch::SnapshotWatch(std::string dir, SnapshotCallback callback,
                             std::shared_ptr<const Options> options, KeySelection keys)
    : Watch(std::move(dir), true, std::move(options)), callback_(std::move(callback)), keys_(std::move(keys)) {}

int64_t newest_stamp(const SnapshotSignature& s) {
  int64_t newest = 0;
  for (const auto& [key, signature] : s.keys) newest = std::max(newest, newest_stamp(signature));
  return newest;
}

SnapshotWatch::Look SnapshotWatch::look(LookupCache& fs, const SnapshotSignature* known) {
  Look result;
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    if (attempt > 0) fs.forget();
    result.survey = settled_survey(fs, path(), keys_);
    result.contents.clear();
    if (result.survey.error) {
      result.error = result.survey.error;
      result.error_path = result.survey.error_path;
      return result;
    }
    if (known && *known == result.survey.signature) {
      result.unchanged = true;
      return result;
    }
    result.error.clear();
    auto& keys = result.survey.signature.keys;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::string& file = result.survey.files[i];
      auto read = consistent_read(fs, file, keys[i].second.file, options().read_size_max);
      if (!read) {
        result.error = read.error();
        result.error_path = file;
        // Gone or replaced since the survey: a writer at work (a publish removing the old
        // ..<timestamp> directory), not a missing key.
        if (replaced_since_walk(read.error())) result.error = make_error_code(Errc::unstable);
        break;
      }
      keys[i].second.file = read->stat;
      result.contents.push_back(std::move(read->bytes));
    }
    if (result.error && result.error != Errc::unstable &&
        !read_again_if_stale(result.error, attempt))
      return result;
    if (result.error) continue;
    // Anything that moved since the survey (a publish: ..data names another directory; a
    // key saved again) was maybe read half before and half after: read it all again.
    fs.forget();
    SnapshotSurvey again = survey_snapshot(fs, path(), keys_);
    if (!again.error && again.signature == result.survey.signature) return result;
    result.error = make_error_code(Errc::unstable);
    result.error_path = path();
  }
  return result;
}

Snapshot SnapshotWatch::assemble(Look& seen) const {
  Snapshot snapshot;
  snapshot.dir = path();
  const auto& keys = seen.survey.signature.keys;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    Digest hash = Digest::of(seen.contents[i]);
    snapshot.keys.emplace(keys[i].first, SnapshotKey{std::move(seen.contents[i]), hash});
  }
  snapshot.hash = snapshot_hash(snapshot.keys);
  for (const auto& [key, entry] : snapshot.keys) {
    auto active = active_.find(key);
    if (active == active_.end()) snapshot.added.push_back(key);
    else if (!(active->second == entry.hash)) snapshot.changed.push_back(key);
  }
  for (const auto& [key, hash] : active_)
    if (!snapshot.keys.count(key)) snapshot.removed.push_back(key);
  return snapshot;
}

// An empty file is almost always a writer caught mid-truncate, and an empty directory one
// between removing and copying; both are refused unless allowed.
std::error_code SnapshotWatch::offerable(const Snapshot& snapshot, const Look& seen,
                                         std::string& where) const {
  if (options().allow_empty) return {};
  if (snapshot.keys.empty()) {
    where = path();
    return make_error_code(Errc::empty_snapshot);
  }
  const auto& keys = seen.survey.signature.keys;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (snapshot.keys.find(keys[i].first)->second.content.empty()) {
      where = seen.survey.files[i];
      return make_error_code(Errc::empty_file);
    }
  }
  return {};
}

// A key of a plain directory, by the selection; in a kubelet volume every name is the
// kubelet's (and it never writes in place), so the answer does not matter there.
bool SnapshotWatch::reads(const std::string& dir, const std::string& name) const {
  if (name.empty()) return true;
  if (name.front() == '.' && !keys_.hidden) return false;
  if (dir == path()) return selected(keys_, name);
  std::string under = path() + "/";
  if (!dir.starts_with(under)) return true;
  return selected(keys_, dir.substr(under.size()) + "/" + name);
}

std::error_code SnapshotWatch::look_initial(Filesystem& fs, std::string& message) {
  LookupCache cache(fs);
  Look seen = look(cache, nullptr);
  note_interests(cache, seen.survey.interests);
  std::string where = seen.error_path;
  std::error_code ec = seen.error;
  Snapshot snapshot;
  if (!ec) {
    snapshot = assemble(seen);
    ec = offerable(snapshot, seen, where);
  }
  if (ec) {
    message = "hotreload: cannot load " + path() + ": " + describe(ec, where);
    return ec;
  }
  initial_ = std::move(snapshot);
  signature_ = std::move(seen.survey.signature);
  return {};
}

std::error_code SnapshotWatch::accept_initial_look(Clock& clock, std::string& message) {
  Snapshot snapshot = std::move(*initial_);
  initial_.reset();
  decltype(active_) active;
  for (const auto& [key, entry] : snapshot.keys) active.emplace(key, entry.hash);
  std::error_code ec = accept_initial(snapshot.hash, [&] { return callback_(snapshot); }, clock,
                                      message, &snapshot);
  if (!ec) active_ = std::move(active);
  return ec;
}

// A safety poll of a kubelet volume at rest costs the volume directory's lstat: its
// attributes vouch that `..data` still names the directory the last look read (the
// witness), and the kubelet never edits that directory's files in place. What a safety
// poll is for, a change no event announced, is then a publish. An edit by anyone else
// waits for the safety poll that reads, as a key's does (KeyWatch::unchanged_since_last_look).
// A plain directory (any name may be a new key), a poll, or a link the witness cannot
// vouch for: the survey, in full.
bool SnapshotWatch::unchanged_since_last_look(LookupCache& /*fs*/, Trigger trigger,
                                              LinkWitness& links) {
  if (trigger != Trigger::safety_poll || !signature_ || racy_) return false;
  const std::vector<Link>& root_links = signature_->root_links;
  if (root_links.empty()) return false;
  const Link& data = root_links.back();  // the link the survey's root was reached through
  if (!directly_in(path(), data.path) || !data.path.ends_with("/..data") ||
      !is_kubelet_payload_dir(data.target))
    return false;
  return std::all_of(root_links.begin(), root_links.end(),
                     [&](const Link& l) { return links.vouches_for(l.path); });
}

void SnapshotWatch::check(LookupCache& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at) {
  Look seen = look(fs, start_check(signature_, trigger, clock));
  note_interests(fs, std::move(seen.survey.interests));
  // Against a signature of the volume's last full check only (see KeyWatch::check).
  links_moved_ = signature_ && checked_ && !seen.error && !seen.unchanged &&
                 !same_links_in(path(), signature_->root_links, seen.survey.signature.root_links);
  checked_ = true;
  Snapshot snapshot;
  std::string where;
  std::error_code unofferable;
  if (!seen.error && !seen.unchanged) {  // before the signature moves on to the watch
    snapshot = assemble(seen);
    unofferable = offerable(snapshot, seen, where);
  }
  if (!settle_look(signature_, trigger, seen.error, seen.error_path, seen.unchanged,
                   std::move(seen.survey.signature)))
    return;
  if (unofferable) {
    fail(unofferable, where);
    return;
  }
  bool accepted = offer(snapshot.hash, [&] { return callback_(snapshot); }, clock, noticed_at,
                        &snapshot);
  if (!accepted) return;
  active_.clear();
  for (const auto& [key, entry] : snapshot.keys) active_.emplace(key, entry.hash);
}

}  // namespace hotreload
