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

// The links directly in dir, in walk order, are the same in a and b.
bool same_links_in(std::string_view dir, const std::vector<Link>& a, const std::vector<Link>& b) {
  auto in_dir = [&](const Link& l) { return directly_in(dir, l.path); };
  auto ai = std::find_if(a.begin(), a.end(), in_dir);
  auto bi = std::find_if(b.begin(), b.end(), in_dir);
  while (ai != a.end() && bi != b.end()) {
    if (!(*ai == *bi)) return false;
    ai = std::find_if(std::next(ai), a.end(), in_dir);
    bi = std::find_if(std::next(bi), b.end(), in_dir);
  }
  return ai == a.end() && bi == b.end();
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
KeyWatch::Look KeyWatch::look(LookupCache& fs, const Signature* known) {
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
    if (known && *known == result.walk.signature) {
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
  if (!signature_ || racy_ || file_.empty()) return false;
  bool vouched = !signature_->links.empty();
  for (const Link& link : signature_->links) {
    if (links.vouches_for(link.path)) continue;
    vouched = false;
    auto target = fs.readlink(link.path);
    if (!target || *target != link.target) return false;
  }
  // A safety poll is for what no event announced. The kubelet publishes by renaming
  // ..data, which the volume's kernel watch sees and its witness vouches for; it never
  // edits a file of a ..<timestamp> directory in place (the pod mounts it read-only). Such
  // an edit, by anyone else, waits for the safety poll that reads (every
  // safety_rehash_every-th).
  if (trigger == Trigger::safety_poll && vouched && is_kubelet_payload_dir(parent_view(file_)))
    return true;
  auto now = fs.lstat(file_);
  return now && *now == signature_->file;
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
  initial_ = std::move(seen.content->bytes);
  signature_ = Signature{std::move(seen.walk.signature.links), seen.content->stat};
  file_ = std::move(seen.walk.file);
  return {};
}

std::error_code KeyWatch::accept_initial_look(Clock& clock, std::string& message) {
  const std::string content = std::exchange(initial_, {});
  return accept_initial(Digest::of(content), [&] { return callback_(content); }, clock, message);
}

void KeyWatch::check(LookupCache& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at) {
  Look seen = look(fs, start_check(signature_, trigger, clock));
  note_interests(fs, std::move(seen.walk.interests));
  Signature now{std::move(seen.walk.signature.links),
                seen.content ? seen.content->stat : FileStat{}};
  // Against a signature of the volume's last full check only: the initial look may be older.
  // An unchanged signature has the same links (the event path's usual case: no compare).
  links_moved_ = signature_ && checked_ && !seen.error && !seen.unchanged &&
                 !same_links_in(parent_view(path()), signature_->links, now.links);
  checked_ = true;
  bool read = settle_look(signature_, trigger, seen.error, seen.error_path, seen.unchanged,
                          std::move(now));
  if (seen.error) file_.clear();
  if (!read) return;
  file_ = std::move(seen.walk.file);
  const std::string& content = seen.content->bytes;
  if (std::error_code ec = offerable(content)) {
    fail(ec, path());
    return;
  }
  offer(Digest::of(content), [&] { return callback_(content); }, clock, noticed_at);
}

}  // namespace hotreload
