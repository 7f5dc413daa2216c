// GetStatusResponse.replica (system_service.proto, ReplicaStatus): this
// replica's id, its place in the change feed, and the maintenance lease.
#include <algorithm>
#include <string>

#include "daemon/rpc.h"
#include "google/protobuf/util/time_util.h"

namespace keyward::daemon {

using google::protobuf::util::TimeUtil;

void FillReplicaStatus(const ServiceEnv& env, keyward::v1::ReplicaStatus* out) {
  out->set_replica_id(env.replica_id);
  out->set_single_node(env.follower == nullptr);
  if (env.follower != nullptr) {
    const int64_t applied = env.keystore->FeedPosition();
    out->set_applied_seq(applied);
    auto head = env.keystore->FeedHead();
    if (head.ok()) {
      out->set_head_seq(*head);
      out->set_lag_seq(std::max<int64_t>(0, *head - applied));
    } else {
      out->set_feed_error(std::string(head.status().message()));
    }
    *out->mutable_lag() = TimeUtil::MicrosecondsToDuration(
        absl::ToInt64Microseconds(env.follower->Lag()));
    *out->mutable_max_staleness() = TimeUtil::MicrosecondsToDuration(
        absl::ToInt64Microseconds(env.max_staleness));
  }
  if (env.maintenance != nullptr) {
    const keystore::LeaseRecord lease = env.maintenance->lease();
    out->set_lease_holder(lease.holder);
    out->set_lease_epoch(lease.epoch);
    out->set_lease_held(!lease.holder.empty() &&
                        lease.holder == env.maintenance->holder());
  }
}

}  // namespace keyward::daemon
