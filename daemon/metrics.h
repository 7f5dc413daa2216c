// Metrics: Prometheus counters of calls by method and status code, a
// latency histogram by method and, on a replica following a PostgreSQL
// change feed, gauges of its lag (keyward_feed_lag_seconds,
// keyward_feed_lag_changes), served as text on GET /metrics by their own
// HTTP listener (Debian's prometheus-cpp). Off unless an address is set.
// Labels carry method names and codes only: no key names, no principals.
#ifndef KEYWARD_DAEMON_METRICS_H_
#define KEYWARD_DAEMON_METRICS_H_

#include <array>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace keyward::daemon {

class Metrics {
 public:
  // Start listens on `address` ("127.0.0.1:9464"). UNAVAILABLE, naming the
  // address, if it cannot.
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(
      const std::string& address);
  ~Metrics();

  // Record counts one finished call. Thread-safe; after the first call for
  // a (method, code) pair it takes only a shared lock, a lookup by method
  // (no allocation) and atomic adds.
  void Record(absl::string_view method, absl::StatusCode code,
              absl::Duration latency);

  // SetFeedLag sets the replica's lag gauges: keyward_feed_lag_seconds
  // (the time since its last pass over the change feed that reached the
  // head) and keyward_feed_lag_changes (changes committed, by any replica,
  // and not yet applied here, as of its last pass). Thread-safe.
  void SetFeedLag(absl::Duration lag, int64_t changes);

 private:
  Metrics();
  struct Series {
    prometheus::Counter* calls = nullptr;
    prometheus::Histogram* latency = nullptr;
  };
  // absl::StatusCode's canonical values are 0..16; series_ keeps one slot
  // per code and a spare one for any other value (looked up every time).
  static constexpr int kCodes = 17;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* calls_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Gauge* feed_lag_seconds_;
  prometheus::Gauge* feed_lag_changes_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  absl::Mutex mu_;
  // By method, then by code. node_hash_map: the Series stay put when the
  // map grows, so Record uses them after releasing the lock.
  absl::node_hash_map<std::string, std::array<Series, kCodes + 1>> series_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_METRICS_H_
