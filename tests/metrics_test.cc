// The metrics snapshot and its Prometheus text rendering: names, values, label escaping,
// the histogram's cumulative buckets, the prefix, and a real FileWatcher feeding it.
#include <boost/test/unit_test.hpp>

#include "hotreload/digest.h"
#include "hotreload/hub.h"
#include "hotreload/metrics.h"
#include "hotreload/snapshot.h"
#include "prometheus_text.h"
#include "test_support.h"

using namespace hotreload;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

WatchMetrics sample_watch(std::string path) {
  WatchMetrics m;
  m.path = std::move(path);
  m.success_total = 4;
  m.error_total = 2;
  m.last_success_timestamp_seconds = 1795700000.25;
  m.hash_hex = Digest::of("replicas: 3\n").hex();
  m.mode = ActiveMode::poll;
  m.reload_duration.observe(300us);
  m.reload_duration.observe(3ms);
  m.reload_duration.observe(20s);
  return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(histogram_counts_are_cumulative_with_sum_and_count) {
  DurationHistogram h({0.001, 0.01, 1});
  h.observe(500us);
  h.observe(1ms);  // on the bound: le is "less than or equal"
  h.observe(5ms);
  h.observe(2s);
  BOOST_TEST(h.cumulative_counts() == (std::vector<uint64_t>{2, 3, 3}));
  BOOST_TEST(h.count() == 4u);
  BOOST_TEST(h.sum_seconds() == 2.0065, boost::test_tools::tolerance(1e-9));
  BOOST_CHECK_THROW(DurationHistogram({1, 0.5}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(renders_every_family_with_its_values) {
  MetricsSnapshot snap{{sample_watch("/etc/app/app.yaml")}, {}};
  std::string text = render_prometheus(snap);
  auto samples = parse_prometheus_text(text);
  std::map<std::string, std::string> p{{"path", "/etc/app/app.yaml"}};
  BOOST_TEST(*prom_value(samples, "hotreload_success_total", p) == 4);
  BOOST_TEST(*prom_value(samples, "hotreload_error_total", p) == 2);
  BOOST_TEST(*prom_value(samples, "hotreload_last_success_timestamp_seconds", p) == 1795700000.25);
  BOOST_TEST(*prom_value(samples, "hotreload_content_hash_info",
                         {{"path", "/etc/app/app.yaml"}, {"hash", Digest::of("replicas: 3\n").hex()}}) == 1);
  BOOST_TEST(*prom_value(samples, "hotreload_mode_info", {{"path", "/etc/app/app.yaml"}, {"mode", "poll"}}) == 1);
  BOOST_TEST(!prom_value(samples, "hotreload_mode_info", {{"mode", "events"}}));
  // Buckets are cumulative and end with +Inf = count.
  BOOST_TEST(*prom_value(samples, "hotreload_reload_duration_seconds_bucket",
                         {{"path", "/etc/app/app.yaml"}, {"le", "0.0005"}}) == 1);
  BOOST_TEST(*prom_value(samples, "hotreload_reload_duration_seconds_bucket",
                         {{"path", "/etc/app/app.yaml"}, {"le", "0.005"}}) == 2);
  BOOST_TEST(*prom_value(samples, "hotreload_reload_duration_seconds_bucket",
                         {{"path", "/etc/app/app.yaml"}, {"le", "10"}}) == 2);
  BOOST_TEST(*prom_value(samples, "hotreload_reload_duration_seconds_bucket",
                         {{"path", "/etc/app/app.yaml"}, {"le", "+Inf"}}) == 3);
  BOOST_TEST(*prom_value(samples, "hotreload_reload_duration_seconds_count", p) == 3);
  BOOST_TEST(*prom_value(samples, "hotreload_reload_duration_seconds_sum", p) == 20.0033,
             boost::test_tools::tolerance(1e-9));
  BOOST_TEST(text.find("# TYPE hotreload_reload_duration_seconds histogram\n") != std::string::npos);
  BOOST_TEST(text.find("# TYPE hotreload_success_total counter\n") != std::string::npos);
  BOOST_TEST(text.find("# TYPE hotreload_content_hash_info gauge\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(label_values_are_escaped_and_read_back_intact) {
  const std::string nasty = "/cfg/we\"ird\\name\nwith newline";
  BOOST_TEST(escape_label_value(nasty) == "/cfg/we\\\"ird\\\\name\\nwith newline");
  MetricsSnapshot snap{{sample_watch(nasty)}, {}};
  std::string text = render_prometheus(snap);
  // No raw newline inside a sample line: every line is a comment or a whole sample.
  auto samples = parse_prometheus_text(text);
  // The path is written as in the logs (a backslash doubled, a control byte as \xHH), so
  // the label reads back as that text, from which the path is recovered exactly.
  const std::string as_logged = "/cfg/we\"ird\\\\name\\x0awith newline";
  BOOST_TEST(*prom_value(samples, "hotreload_success_total", {{"path", as_logged}}) == 4);
}

BOOST_AUTO_TEST_CASE(paths_that_are_not_utf8_make_distinct_utf8_labels) {
  const std::string latin1 = "/cfg/caf\xe9", replacement = "/cfg/caf\xef\xbf\xbd";
  MetricsSnapshot snap{{sample_watch(latin1), sample_watch(replacement)}, {}};
  std::string text = render_prometheus(snap);
  BOOST_TEST(text.find('\xe9') == std::string::npos);  // no raw invalid byte
  auto samples = parse_prometheus_text(text);
  BOOST_TEST(prom_value(samples, "hotreload_success_total", {{"path", "/cfg/caf\\xe9"}}).has_value());
  BOOST_TEST(prom_value(samples, "hotreload_success_total", {{"path", replacement}}).has_value());
}

BOOST_AUTO_TEST_CASE(prefix_is_swappable_and_checked) {
  MetricsSnapshot snap{{sample_watch("/a")}, {}};
  std::string text = render_prometheus(snap, "kubernaut_hotreload_");
  auto samples = parse_prometheus_text(text);
  BOOST_TEST(samples.size() > 10u);
  for (const auto& s : samples) BOOST_TEST(s.name.rfind("kubernaut_hotreload_", 0) == 0u);
  BOOST_TEST(*prom_value(samples, "kubernaut_hotreload_success_total", {{"path", "/a"}}) == 4);
  BOOST_CHECK_THROW(render_prometheus(snap, "9bad"), std::invalid_argument);
  BOOST_CHECK_THROW(render_prometheus(snap, "has-dash_"), std::invalid_argument);
  BOOST_TEST(is_valid_metric_prefix(""));
  BOOST_TEST(is_valid_metric_prefix("a:b_9"));
}

BOOST_AUTO_TEST_CASE(extra_families_are_rendered_with_the_prefix) {
  MetricsSnapshot snap;
  snap.extra.push_back({"action_failures_total", "Failed actions.", "counter",
                        {{{{"path", "/a"}, {"action", "webhook"}}, 3}}});
  auto samples = parse_prometheus_text(render_prometheus(snap, "x_"));
  BOOST_TEST(*prom_value(samples, "x_action_failures_total", {{"action", "webhook"}}) == 3);
}

BOOST_AUTO_TEST_CASE(recorder_joins_a_real_watchers_status_and_latencies) {
  TempDir dir;
  write_file(dir / "app.conf", "v1");
  MetricsRecorder recorder;
  Options options;
  options.on_decision = recorder.observer();
  auto hub = Hub::make_posix();
  Recorder seen;
  FileWatcher watcher(dir / "app.conf", seen.callback(), options, hub);
  watcher.start();
  replace_file(dir / "app.conf", "v2");  // error_total is checked: no truncated moment
  BOOST_REQUIRE(seen.wait_accepted("v2"));
  // The status is committed before on_decision runs: wait for the decision too.
  BOOST_REQUIRE(eventually([&] {
    return recorder.collect(watcher.status()).reload_duration.count() == 1;
  }));
  WatchMetrics m = recorder.collect(watcher.status());
  BOOST_TEST(m.path == dir / "app.conf");
  BOOST_TEST(m.success_total == 2u);  // the load and one reload
  BOOST_TEST(m.error_total == 0u);
  BOOST_TEST(*m.hash_hex == Digest::of("v2").hex());
  BOOST_TEST(m.reload_duration.count() == 1u);  // the initial load is not a reload
  BOOST_TEST(m.last_success_timestamp_seconds.has_value());
  // Another path's recorder entry stays empty.
  Status other;
  other.path = "/elsewhere";
  BOOST_TEST(recorder.collect(other).reload_duration.count() == 0u);
  BOOST_TEST(recorder.collect(other).success_total == 0u);
}

BOOST_AUTO_TEST_CASE(a_directory_exposes_its_key_count_and_every_sample_its_volume) {
  MetricsRecorder recorder;
  Snapshot snap;
  snap.dir = "/etc/app";
  for (const char* key : {"a.yaml", "b.yaml", "c.yaml"}) snap.keys.emplace(key, SnapshotKey{key, Digest::of(key)});
  snap.hash = snapshot_hash(snap.keys);
  recorder.record({.kind = DecisionKind::loaded, .path = "/etc/app", .volume = "/etc/app",
                   .hash = snap.hash, .snapshot = &snap});
  Status dir{.path = "/etc/app", .volume = "/etc/app", .hash = snap.hash};
  BOOST_TEST(*recorder.collect(dir).snapshot_keys == 3u);
  snap.keys.erase("c.yaml");
  recorder.record({.kind = DecisionKind::reloaded, .path = "/etc/app", .volume = "/etc/app",
                   .hash = snap.hash, .snapshot = &snap});
  recorder.record({.kind = DecisionKind::rejected, .path = "/etc/app", .volume = "/etc/app",
                   .hash = Digest::of("x"), .snapshot = &snap});  // a refusal changes nothing
  WatchMetrics m = recorder.collect(dir);
  BOOST_TEST(*m.snapshot_keys == 2u);
  BOOST_TEST(m.volume == "/etc/app");
  BOOST_TEST(m.reload_duration.count() == 1u);

  WatchMetrics file = sample_watch("/etc/app/app.yaml");
  file.volume = "/etc/app";
  auto samples = parse_prometheus_text(render_prometheus({{m, file}, {}}));
  BOOST_TEST(*prom_value(samples, "hotreload_snapshot_keys", {{"path", "/etc/app"}, {"volume", "/etc/app"}}) == 2);
  BOOST_TEST(!prom_value(samples, "hotreload_snapshot_keys", {{"path", "/etc/app/app.yaml"}}));
  // Every sample of both watches names its volume.
  for (const auto& s : samples) BOOST_TEST(s.labels.at("volume") == "/etc/app", s.name);
}

BOOST_AUTO_TEST_SUITE_END()
