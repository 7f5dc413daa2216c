#include "daemon/metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
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
                    .Register(*registry_)) {}

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
  const std::string key = absl::StrCat(method, "|", static_cast<int>(code));
  Series series{};
  bool found = false;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(key);
    if (it != series_.end()) {
      series = it->second;
      found = true;
    }
  }
  if (!found) {
    static const prometheus::Histogram::BucketBoundaries* buckets =
        new prometheus::Histogram::BucketBoundaries{
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
            0.01,   0.025,   0.05,   0.1,   0.25,   1};
    absl::MutexLock lock(&mu_);
    auto [it, fresh] = series_.try_emplace(key);
    if (fresh) {
      it->second.calls = &calls_->Add(
          {{"method", std::string(method)},
           {"code", absl::StatusCodeToString(code)}});
      it->second.latency =
          &latency_->Add({{"method", std::string(method)}}, *buckets);
    }
    series = it->second;
  }
  series.calls->Increment();
  series.latency->Observe(absl::ToDoubleSeconds(latency));
}

}  // namespace keyward::daemon
