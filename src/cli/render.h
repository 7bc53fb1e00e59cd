// Render: --render-to and --envsubst. The accepted content, with environment variables
// substituted, written where the service reads it — so that the service only ever sees
// content that passed validation, in its rendered form (what the prometheus-operator
// reloader's --config-envsubst-file does, for a file or a whole directory).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "duration.h"
#include "hotreload/snapshot.h"

namespace hotreload::cli {

// A variable's value, or nullopt when it is not set.
using Lookup = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment (getenv).
Lookup process_environment();

// text with $NAME, ${NAME} and ${NAME:-default} replaced by the variable's value (the
// default when it is unset or empty; the default itself is not expanded); $$ is a single
// $. A NAME is a letter or '_', then letters, digits and '_': anything else after a '$' —
// $1 in a Prometheus relabel rule, a lone $ — stays as written. A variable that is not set
// and has no default is an error naming it and its line; so is a ${ without its }.
Parsed<std::string> envsubst(std::string_view text, const Lookup& lookup);

// The same for every key of a snapshot; an error names the key. The keys' hashes are of
// the rendered content; the snapshot's own hash and key changes stay those of the source.
std::variant<Snapshot, std::string> envsubst(const Snapshot& snapshot, const Lookup& lookup);

// Replaces the file at path with content in one rename: a reader sees the old content or
// the new, never a part. The file is 0644. Says what failed, if anything.
std::optional<std::string> write_file_atomically(const std::string& path, std::string_view content);

// Publishes snapshot's keys in dir as the kubelet publishes a ConfigMap: the keys in a new
// hidden directory (..render_XXXXXX), `..data` renamed to point at it in one step, and
// each top-level name a link through `..data` (made once, removed when its key is gone);
// the previous directory is removed after. A reader that follows `dir/key` sees one
// publish whole. dir is made if missing. Says what failed, if anything.
std::optional<std::string> publish_directory(const std::string& dir, const Snapshot& snapshot);

}  // namespace hotreload::cli
