#include "http/api/gateway.hpp"

#include <map>
#include <memory>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/sec.hpp>

#include "actors/remote/codec.hpp"
#include "cluster/messages.hpp"
#include "http/bridge.hpp"
#include "proto/cluster.pb.h"
#include "runtime/errc.hpp"

namespace klerno::http::api {

namespace {

using steady = std::chrono::steady_clock;
using actors::model::transaction;
using actors::wallet::item_outcome;

/// One store request on its way to the owners, alive until every transaction has its outcome.
class store_job : public std::enable_shared_from_this<store_job> {
public:
  store_job(actor_bridge& bridge, gateway_config cfg, std::vector<transaction> txs,
            steady::time_point deadline, std::function<void(store_outcomes, std::string)> done)
      : bridge_(bridge),
        cfg_(cfg),
        txs_(std::move(txs)),
        results_(txs_.size()),
        settled_(txs_.size(), false),
        remaining_(txs_.size()),
        deadline_(deadline),
        done_(std::move(done)) {}

  void start() {
    std::vector<std::size_t> all(txs_.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      all[i] = i;
    }
    if (all.empty()) {
      finish();
      return;
    }
    dispatch(all);
  }

private:
  std::chrono::milliseconds time_left() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - steady::now());
    return std::max(left, std::chrono::milliseconds{1});
  }

  void settle(std::size_t i, item_outcome o) {
    if (settled_[i]) {
      return;
    }
    settled_[i] = true;
    results_[i] = std::move(o);
    if (--remaining_ == 0) {
      finish();
    }
  }

  void finish() {
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) {
      done(std::move(results_), owner_name_);
    }
  }

  void fail(const std::vector<std::size_t>& indexes, const caf::error& err) {
    for (auto i : indexes) {
      item_outcome o;
      o.error = err;
      settle(i, std::move(o));
    }
  }

  void count(const char* outcome, std::size_t n = 1) {
    if (cfg_.metrics != nullptr) {
      cfg_.metrics->remote_requests.with({outcome}).inc(n);
    }
  }

  /// Sends each transaction to its owner in the current view.
  void dispatch(const std::vector<std::size_t>& indexes) {
    auto view = cfg_.board != nullptr ? cfg_.board->current() : nullptr;
    std::vector<std::size_t> local;
    std::map<cluster::member_ref, std::vector<std::size_t>> remote;
    std::vector<std::size_t> unroutable;
    for (auto i : indexes) {
      const auto& tx = txs_[i];
      if (view == nullptr || tx.from_addr.empty()) {
        local.push_back(i);
        continue;
      }
      auto owner = view->owner_of(tx.from_addr);
      if (!owner) {
        unroutable.push_back(i); // no member owns partitions right now
        continue;
      }
      if (i == 0) {
        owner_name_ = owner->name; // the owner that answers (the latest one asked)
      }
      if (view->is_self(*owner)) {
        local.push_back(i);
      } else if (auto ep = view->endpoint_of(*owner)) {
        remote[*owner].push_back(i);
      } else {
        unroutable.push_back(i); // not connected (yet): wait for the view
      }
    }
    if (!local.empty()) {
      send_local(std::move(local));
    }
    for (auto& [owner, group] : remote) {
      send_remote(owner, view->endpoint_of(owner), std::move(group));
    }
    if (!unroutable.empty()) {
      retry_later(std::move(unroutable), view ? view->generation : 0);
    }
  }

  void send_local(std::vector<std::size_t> indexes) {
    auto region = caf::actor_cast<actors::wallet::region_actor>(
      bridge_.system().registry().get(actors::wallet::region_name));
    if (!region) {
      fail(indexes, runtime::make_error(runtime::errc::unavailable,
                                        caf::make_message(std::string{"the wallets are restarting"},
                                                          int64_t{1'000})));
      return;
    }
    actors::wallet::store_many_request req;
    for (auto i : indexes) {
      req.txs.push_back(txs_[i]);
    }
    auto self = shared_from_this();
    bridge_.self()
      ->request(region, time_left(), actors::wallet::store_many_atom::value, std::move(req))
      .then(
        [self, indexes](actors::wallet::store_many_reply& r) {
          for (std::size_t k = 0; k < indexes.size(); ++k) {
            self->settle(indexes[k], k < r.items.size() ? std::move(r.items[k]) : item_outcome{});
          }
        },
        [self, indexes](caf::error& err) { self->fail(indexes, err); });
  }

  /// Sends a group to its owner's endpoint. The attempt ends with the owner's answer, or as
  /// soon as a view shows that the owner is no longer an up member (it died or leaves): then the
  /// group goes to the new owner at once instead of waiting out the deadline. A late answer of
  /// the old owner is ignored; stores are idempotent on tx_id, so both owners may have stored.
  void send_remote(const cluster::member_ref& owner, const caf::actor& endpoint,
                   std::vector<std::size_t> indexes) {
    cluster::v1::StoreRequest req;
    req.set_version(cluster::v1::PROTOCOL_MINOR);
    req.set_deadline_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch() + time_left())
                               .count());
    for (auto i : indexes) {
      actors::remote::encode(txs_[i], *req.add_txs());
    }
    std::string bytes;
    req.SerializeToString(&bytes);
    auto self = shared_from_this();
    auto generation = cfg_.board->current()->generation;
    auto over = std::make_shared<bool>(false);
    bridge_.self()
      ->request(endpoint, time_left(), cluster::store_atom::value, std::move(bytes))
      .then(
        [self, indexes, generation, over](const std::string& reply) {
          if (std::exchange(*over, true)) {
            return;
          }
          cluster::v1::StoreReply r;
          if (!r.ParseFromString(reply) || r.items_size() != static_cast<int>(indexes.size())) {
            self->count("failed");
            self->retry_later(indexes, generation);
            return;
          }
          std::vector<std::size_t> again;
          for (std::size_t k = 0; k < indexes.size(); ++k) {
            auto o = actors::remote::decode(r.items(static_cast<int>(k)));
            if (o.error && actors::remote::is_not_owner(o.error)) {
              again.push_back(indexes[k]); // its view moved on: ask the owner of the next view
            } else {
              self->settle(indexes[k], std::move(o));
            }
          }
          self->count("ok", indexes.size() - again.size());
          if (!again.empty()) {
            self->retry_later(std::move(again), generation);
          }
        },
        [self, indexes, generation, over](caf::error&) {
          if (std::exchange(*over, true)) {
            return;
          }
          // The owner did not answer: it may be gone. Writes are idempotent on tx_id, so the
          // owner of the next view can safely get the same transactions again.
          self->count("failed", indexes.size());
          self->retry_later(indexes, generation);
        });
    watch_owner(std::make_shared<boost::asio::steady_timer>(bridge_.context()), over, owner,
                endpoint, indexes);
  }

  /// Ends the attempt `over` and dispatches `indexes` again once `owner` is no longer an up
  /// member in the current view, connected through the `endpoint` the request went to (a
  /// request on a connection that was replaced is lost). Stops at the deadline: the request's
  /// own timeout answers then.
  void watch_owner(std::shared_ptr<boost::asio::steady_timer> timer, std::shared_ptr<bool> over,
                   cluster::member_ref owner, caf::actor endpoint,
                   std::vector<std::size_t> indexes) {
    timer->expires_after(std::chrono::milliseconds{20});
    auto self = shared_from_this();
    timer->async_wait([self, timer, over, owner = std::move(owner), endpoint = std::move(endpoint),
                       indexes = std::move(indexes)](boost::system::error_code ec) mutable {
      if (ec || *over || steady::now() >= self->deadline_) {
        return;
      }
      auto view = self->cfg_.board->current();
      const auto* row = view->row_of(owner);
      bool gone = row == nullptr || row->status != cluster::member_status::up
                  || view->endpoint_of(owner) != endpoint;
      if (!gone) {
        self->watch_owner(timer, over, std::move(owner), std::move(endpoint), std::move(indexes));
        return;
      }
      *over = true;
      self->count("failed", indexes.size());
      self->dispatch(indexes);
    });
  }

  /// Waits for a view newer than `generation` (or `retry_wait`), then dispatches again; fails the
  /// transactions once the deadline has passed.
  void retry_later(std::vector<std::size_t> indexes, uint64_t generation) {
    if (steady::now() >= deadline_ || cfg_.board == nullptr) {
      fail(indexes, runtime::make_error(
                      runtime::errc::unavailable,
                      caf::make_message(std::string{"the owner of the wallet did not answer"},
                                        int64_t{1'000})));
      return;
    }
    count("retried", indexes.size());
    auto timer = std::make_shared<boost::asio::steady_timer>(bridge_.context());
    auto self = shared_from_this();
    auto started = steady::now();
    poll(timer, std::move(indexes), generation, started);
  }

  void poll(std::shared_ptr<boost::asio::steady_timer> timer, std::vector<std::size_t> indexes,
            uint64_t generation, steady::time_point started) {
    timer->expires_after(std::chrono::milliseconds{20});
    auto self = shared_from_this();
    timer->async_wait([self, timer, indexes = std::move(indexes), generation,
                       started](boost::system::error_code ec) mutable {
      if (ec) {
        self->fail(indexes, caf::make_error(caf::sec::request_timeout));
        return;
      }
      bool changed = self->cfg_.board->current()->generation != generation;
      auto now = steady::now();
      if (changed || now - started >= self->cfg_.retry_wait || now >= self->deadline_) {
        self->dispatch(indexes);
        return;
      }
      self->poll(timer, std::move(indexes), generation, started);
    });
  }

  actor_bridge& bridge_;
  gateway_config cfg_;
  std::vector<transaction> txs_;
  store_outcomes results_;
  std::vector<bool> settled_;
  std::size_t remaining_;
  steady::time_point deadline_;
  std::function<void(store_outcomes, std::string)> done_;
  std::string owner_name_;
};

} // namespace

void store_on_owners(actor_bridge& bridge, const gateway_config& cfg, std::vector<transaction> txs,
                     std::chrono::milliseconds timeout,
                     std::function<void(store_outcomes, std::string)> done) {
  auto job = std::make_shared<store_job>(bridge, cfg, std::move(txs), steady::now() + timeout,
                                         std::move(done));
  job->start();
}

} // namespace klerno::http::api
