// KeyWatch: one file, as a FileWatcher sees it.
//
// A look walks the path (every symlink on the way), and unless the walk's signature is the
// one last read, reads the file consistently and offers the content. A walk or read that
// catches a writer between two steps is retried; a failure counts only when it repeats.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "hotreload/file_watcher.h"
#include "kept_walk.h"
#include "watch.h"

namespace hotreload {

class KeyWatch final : public Watch {
 public:
  KeyWatch(std::string path, Callback callback, std::shared_ptr<const Options> options);

  std::error_code look_initial(Filesystem& fs, std::string& message) override;
  std::error_code accept_initial_look(Clock& clock, std::string& message) override;
  void check(LookupCache& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at) override;
  // Each link of the signature still names its target (vouched for by the witness, or
  // read), and the file the walk ended at has the signature's attributes: one lstat per
  // key, what the keys of a volume share looked at once. A safety poll of a kubelet key
  // whose links the witness vouched for does not look at its file (see the .cc).
  bool unchanged_since_last_look(LookupCache& fs, Trigger trigger, LinkWitness& links) override;

 private:
  struct Look;
  Look look(LookupCache& fs, const KeptWalk* known);
  std::error_code offerable(const std::string& content) const;

  const Callback callback_;
  // The walk and the file the content last read came from; reset on failure.
  std::optional<KeptWalk> kept_;
};

}  // namespace hotreload
