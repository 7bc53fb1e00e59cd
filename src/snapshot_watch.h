// SnapshotWatch: a whole directory, as a VolumeWatcher sees it.
//
// A look surveys the directory from attributes alone: the snapshot root (the `..<ts>`
// directory `..data` names, for a kubelet volume; the directory itself otherwise), its
// keys and each key's signature. Unless that is the survey last read, it reads every key
// from that root, surveys again, and keeps the read only if nothing moved in between —
// else reads again. The snapshot is then offered as one.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hotreload/volume_watcher.h"
#include "watch.h"

namespace hotreload {

// What a poll compares for a snapshot: if this is unchanged, every key is presumed so.
struct SnapshotSignature {
  std::vector<Link> root_links;                          // `..data -> ..<ts>`, for a kubelet volume
  std::vector<std::pair<std::string, Signature>> keys;   // key -> its file's signature, sorted
  friend bool operator==(const SnapshotSignature&, const SnapshotSignature&) = default;
};
int64_t newest_stamp(const SnapshotSignature& s);

// A directory's keys, from attributes alone.
struct SnapshotSurvey {
  bool kubelet = false;            // keys come from the directory ..data names
  SnapshotSignature signature;
  std::vector<std::string> files;  // the file each key resolves to, parallel to signature.keys
  std::vector<Interest> interests;
  std::error_code error;
  std::string error_path;
};

SnapshotSurvey survey_snapshot(Filesystem& fs, const std::string& dir, const KeySelection& sel);

class SnapshotWatch final : public Watch {
 public:
  SnapshotWatch(std::string dir, SnapshotCallback callback, std::shared_ptr<const Options> options,
                KeySelection keys);

  std::error_code look_initial(Filesystem& fs, std::string& message) override;
  std::error_code accept_initial_look(Clock& clock, std::string& message) override;
  void check(LookupCache& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at) override;
  bool unchanged_since_last_look(LookupCache& fs, Trigger trigger, LinkWitness& links) override;
  bool reads(const std::string& dir, const std::string& name) const override;

 private:
  struct Look;
  Look look(LookupCache& fs, const SnapshotSignature* known);
  Snapshot assemble(Look& seen) const;
  std::error_code offerable(const Snapshot& snapshot, const Look& seen, std::string& where) const;

  const SnapshotCallback callback_;
  const KeySelection keys_;
  std::optional<SnapshotSignature> signature_;  // of the snapshot last read
  std::map<std::string, Digest, std::less<>> active_;  // the active snapshot's key hashes
  std::optional<Snapshot> initial_;  // between look_initial and accept_initial_look
};

}  // namespace hotreload
