// Store: titand's RocksDB database and the typed reads and writes on it.
//
// Owns the DB handle, the column families (see schema.h), the lock that keeps a second
// titand off the same state directory, and the origin-to-host-id registry. Writes go through
// write(), which applies the configured durability (a synced WAL by default).
// Thread safety: all methods may be called from any thread; RocksDB serializes writers and
// the host registry has its own mutex.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "common/status.h"
#include "config/config.h"
#include "model/model.h"
#include "store/schema.h"

namespace titand::store {

// Takes an exclusive flock on `dir`/`file_name` and writes the pid into it; returns the file
// descriptor, which holds the lock until it is closed. When another process has the lock, the
// error names `what` (such as "state directory"), the holder's pid and the `setting` to change.
Result<int> lockDirectory(const std::string& dir, std::string_view file_name, std::string_view what,
                          std::string_view setting);

using StateCounts = std::array<int64_t, model::kItemStateCount>;

class Store {
 public:
  struct Options {
    std::string dir;  // The RocksDB directory; created when missing.
    Durability durability = Durability::kSync;
    uint64_t write_buffer_mb = 64;
    uint64_t block_cache_mb = 32;
  };

  // Opens or creates the database. Fails with kUnavailable, naming the holder's pid, when
  // another process holds the directory lock.
  static Result<std::unique_ptr<Store>> open(const Options& options);
  ~Store();

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* family(const char* name) const;
  bool synced() const { return write_options_.sync; }

  // Applies a batch with the configured durability.
  Status write(rocksdb::WriteBatch* batch);

  Result<std::optional<model::WorkItem>> getItem(const model::ItemKey& key);
  // Reads several items at once; a missing item yields a kNotFound status in its slot.
  std::vector<Result<model::WorkItem>> multiGetItems(const std::vector<model::ItemKey>& keys);
  Result<std::optional<model::Execution>> getExecution(const model::Id& id);
  Result<std::optional<std::string>> getTaskJson(const model::Id& id);
  StateCounts getCounts(const model::Id& execution);
  Result<std::optional<std::string>> getFileRecord(const std::string& sha256_hex);

  // Returns the id of an origin, allocating one when it is new. Adds the hosts entry and
  // the id counter to `batch` every time, so the mapping is durable with whatever first
  // refers to it.
  uint32_t hostIdFor(const std::string& origin, rocksdb::WriteBatch* batch);
  // Returns the origin of a host id, or "" when unknown.
  std::string originOf(uint32_t host_id) const;
  std::vector<std::pair<uint32_t, std::string>> hosts() const;

  // Batch helpers that keep the per-execution state counts in step with item writes.
  void putItem(rocksdb::WriteBatch* batch, const model::WorkItem& item);
  void addCount(rocksdb::WriteBatch* batch, const model::Id& execution, model::ItemState state,
                int64_t delta);

  // Returns the number of entries in a column family (RocksDB's estimate).
  uint64_t estimateKeys(const char* family) const;

 private:
  Store() = default;
  Status openDb(const Options& options);
  Status loadHosts();

  int lock_fd_ = -1;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unordered_map<std::string, rocksdb::ColumnFamilyHandle*> by_name_;
  rocksdb::WriteOptions write_options_;

  mutable std::mutex hosts_mutex_;
  std::unordered_map<std::string, uint32_t> host_ids_;
  std::vector<std::string> host_origins_;  // Index: host id; id 0 is unused.
};

}  // namespace titand::store
