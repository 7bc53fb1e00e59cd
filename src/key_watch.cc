#include "key_watch.h"

#include <algorithm>
#include <utility>

#include "consistent_read.h"
#include "hotreload/errors.h"

namespace hotreload {

struct KeyWatch::Look {
  PathWalk walk;
  std::optional<FileContent> content;
  std::error_code error;
  std::string error_path;
  bool unchanged = false;
};

KeyWatch::KeyWatch(std::string path, Callback callback, std::shared_ptr<const Options> options)
    : Watch(std::move(path), false, std::move(options)), callback_(std::move(callback)) {}

namespace {

// The links directly in dir, in walk order, are the same in kept and now.
bool same_links_in(std::string_view dir, const KeptWalk& kept, const std::vector<Link>& now) {
  auto in_dir = [&](const Link& l) { return directly_in(dir, l.path); };
  auto ni = std::find_if(now.begin(), now.end(), in_dir);
  bool same = kept.all_links(dir, [&](std::string_view path, std::string_view target) {
    if (!directly_in(dir, path)) return true;
    if (ni == now.end() || path != ni->path || target != ni->target) return false;
    ni = std::find_if(std::next(ni), now.end(), in_dir);
    return true;
  });
  return same && ni == now.end();
}

// A walk takes several syscalls, so it can fail on a tree caught between two steps of a
// writer: the kubelet removes the old ..<timestamp> directory right after the swap, and a
// walk that read the old ..data target finds it gone. A failure counts only when a fresh
// walk stops at the same place for the same reason; otherwise the later walk stands.
PathWalk settled_walk(LookupCache& fs, const std::string& path) {
  PathWalk walk = walk_path(fs, path);
  for (int attempt = 1; walk.error && attempt < kReadAttempts; ++attempt) {
    fs.forget();
    PathWalk again = walk_path(fs, path);
    if (again.error == walk.error && again.error_path == walk.error_path) break;
    walk = std::move(again);
  }
  return walk;
}

}  // namespace

// Walks the path and, unless the signature is the known one, reads the file. A file that
// changes under the read is walked and read again, a few times.
KeyWatch::Look KeyWatch::look(LookupCache& fs, const KeptWalk* known) {
  Look result;
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    if (attempt > 0) fs.forget();
    result.error.clear();  // what the last attempt found is history once it is read again
    result.walk = settled_walk(fs, path());
    if (result.walk.error) {
      result.error = result.walk.error;
      result.error_path = result.walk.error_path;
      return result;
    }
    if (known && known->same(parent_view(path()), result.walk.signature)) {
      result.unchanged = true;
      return result;
    }
    auto read = consistent_read(fs, result.walk.file, result.walk.signature.file,
                                options().read_size_max);
    if (read) {
      result.content = std::move(*read);
      return result;
    }
    result.error = read.error();
    result.error_path = result.walk.file;
    // The file the walk found is gone or replaced by the time it is opened: the tree moved
    // between the two, which is instability, not absence.
    if (replaced_since_walk(read.error())) result.error = make_error_code(Errc::unstable);
    if (result.error != Errc::unstable && !read_again_if_stale(result.error, attempt))
      return result;
  }
  return result;
}

bool KeyWatch::unchanged_since_last_look(LookupCache& fs, Trigger trigger, LinkWitness& links) {
  if (trigger != Trigger::poll && trigger != Trigger::safety_poll) return false;
  if (!kept_ || racy_) return false;
  bool vouched = kept_->has_links();
  bool links_hold = kept_->all_links(parent_view(path()), [&](std::string_view path,
                                                               std::string_view target) {
    if (links.vouches_for(path)) return true;
    vouched = false;
    auto now = fs.readlink(path);
    return now && *now == target;
  });
  if (!links_hold) return false;
  // A safety poll is for what no event announced. The kubelet publishes by renaming
  // ..data, which the volume's kernel watch sees and its witness vouches for; it never
  // edits a file of a ..<timestamp> directory in place (the pod mounts it read-only). Such
  // an edit, by anyone else, waits for the safety poll that reads (every
  // safety_rehash_every-th).
  std::string file = kept_->file(parent_view(path()));
  if (trigger == Trigger::safety_poll && vouched && is_kubelet_payload_dir(parent_view(file)))
    return true;
  auto now = fs.lstat(std::move(file));
  return now && *now == kept_->stat();
}

std::error_code KeyWatch::offerable(const std::string& content) const {
  if (content.empty() && !options().allow_empty) return make_error_code(Errc::empty_file);
  return {};
}

std::error_code KeyWatch::look_initial(Filesystem& fs, std::string& message) {
  LookupCache cache(fs);
  Look seen = look(cache, nullptr);
  note_interests(cache, seen.walk.interests);
  std::error_code ec = seen.error ? seen.error : offerable(seen.content->bytes);
  if (ec) {
    message = "hotreload: cannot load " + path() + ": " + describe(ec, seen.error_path);
    return ec;
  }
  initial_content() = std::move(seen.content->bytes);
  seen.walk.signature.file = seen.content->stat;
  kept_.emplace(parent_view(path()), seen.walk.signature, seen.walk.file);
  return {};
}

std::error_code KeyWatch::accept_initial_look(Clock& clock, std::string& message) {
  const std::string content = std::exchange(initial_content(), {});
  return accept_initial(Digest::of(content), [&] { return callback_(content); }, clock, message);
}

void KeyWatch::check(LookupCache& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at) {
  Look seen = look(fs, start_check(kept_, trigger, clock));
  note_interests(fs, std::move(seen.walk.interests));
  seen.walk.signature.file = seen.content ? seen.content->stat : FileStat{};
  // Against a signature of the volume's last full check only: the initial look may be older.
  // An unchanged signature has the same links (the event path's usual case: no compare).
  links_moved_ = kept_ && checked_ && !seen.error && !seen.unchanged &&
                 !same_links_in(parent_view(path()), *kept_, seen.walk.signature.links);
  checked_ = true;
  bool read = settle_look(kept_, trigger, seen.error, seen.error_path, seen.unchanged,
                          seen.error || seen.unchanged
                              ? KeptWalk()
                              : KeptWalk(parent_view(path()), seen.walk.signature,
                                         seen.walk.file));
  if (!read) return;
  const std::string& content = seen.content->bytes;
  if (std::error_code ec = offerable(content)) {
    fail(ec, path());
    return;
  }
  offer(Digest::of(content), [&] { return callback_(content); }, clock, noticed_at);
}

}  // namespace hotreload
