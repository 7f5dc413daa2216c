#include "daemon/metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace keyward::daemon {

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      calls_(&prometheus::BuildCounter()
                  .Name("keyward_rpc_total")
                  .Help("Calls answered, by method and status code")
                  .Register(*registry_)),
      latency_(&prometheus::BuildHistogram()
                    .Name("keyward_rpc_latency_seconds")
                    .Help("Time from the call's start to its answer")
                    .Register(*registry_)),
      feed_lag_seconds_(&prometheus::BuildGauge()
                             .Name("keyward_feed_lag_seconds")
                             .Help("Time since this replica's last pass over "
                                   "the change feed that reached its head")
                             .Register(*registry_)
                             .Add({})),
      feed_lag_changes_(&prometheus::BuildGauge()
                             .Name("keyward_feed_lag_changes")
                             .Help("Changes in the feed not yet applied by "
                                   "this replica, as of its last pass")
                             .Register(*registry_)
                             .Add({})) {}

void Metrics::SetFeedLag(absl::Duration lag, int64_t changes) {
  feed_lag_seconds_->Set(absl::ToDoubleSeconds(lag));
  feed_lag_changes_->Set(static_cast<double>(changes));
}

Metrics::~Metrics() = default;

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(
    const std::string& address) {
  std::unique_ptr<Metrics> metrics(new Metrics());
  // civetweb reports a bind failure by throwing; this is the one place the
  // daemon meets an exception, and it does not let it escape.
  try {
    metrics->exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve metrics on ", address, ": ", e.what(),
        "; is the port in use?"));
  }
  metrics->exposer_->RegisterCollectable(metrics->registry_);
  return metrics;
}

void Metrics::Record(absl::string_view method, absl::StatusCode code,
                     absl::Duration latency) {
  const int c = static_cast<int>(code);
  // Codes outside the 17 canonical ones share the last slot's label lookup.
  const size_t slot = c >= 0 && c < kCodes ? static_cast<size_t>(c) : kCodes;
  const Series* series = nullptr;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(method);  // string_view lookup: no allocation
    if (it != series_.end() && it->second[slot].calls != nullptr &&
        slot < kCodes) {
      series = &it->second[slot];
    }
  }
  if (series == nullptr) {
    static const prometheus::Histogram::BucketBoundaries* buckets =
        new prometheus::Histogram::BucketBoundaries{
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
            0.01,   0.025,   0.05,   0.1,   0.25,   1};
    absl::MutexLock lock(&mu_);
    auto& by_code = series_[method];
    Series& s = by_code[slot];
    if (slot == kCodes || s.calls == nullptr) {
      // prometheus-cpp's Add returns the existing series for known labels.
      s.calls = &calls_->Add({{"method", std::string(method)},
                              {"code", absl::StatusCodeToString(code)}});
      s.latency = &latency_->Add({{"method", std::string(method)}}, *buckets);
    }
    s.calls->Increment();
    s.latency->Observe(absl::ToDoubleSeconds(latency));
    return;
  }
  // The handles are never removed or changed once set, so they are used
  // after the lock is released.
  series->calls->Increment();
  series->latency->Observe(absl::ToDoubleSeconds(latency));
}

}  // namespace keyward::daemon
