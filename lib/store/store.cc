#include "store/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include "common/log.h"

namespace titand::store {
namespace {

// Sums int64 deltas, so count updates need no read-modify-write.
class Int64AddOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    int64_t sum = existing != nullptr ? decodeCount(existing->ToStringView()) : 0;
    sum += decodeCount(value.ToStringView());
    *new_value = encodeCountDelta(sum);
    return true;
  }
  const char* Name() const override { return "titand.Int64Add"; }
};

const char* const kFamilies[] = {rocksdb::kDefaultColumnFamilyName.c_str(),
                                 kTasksFamily,
                                 kExecutionsFamily,
                                 kItemsFamily,
                                 kQueueFamily,
                                 kInflightFamily,
                                 kResultsFamily,
                                 kCountsFamily,
                                 kHostsFamily,
                                 kFilesFamily};

Status fromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return Status::ok();
  ErrorCode code = status.IsCorruption() ? ErrorCode::kCorruption : ErrorCode::kIo;
  return errorStatus(code, "{}: {}", what, status.ToString());
}

}  // namespace

Result<int> lockDirectory(const std::string& dir, std::string_view file_name, std::string_view what,
                          std::string_view setting) {
  std::string path = dir + "/" + std::string(file_name);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return errorStatus(ErrorCode::kIo, "cannot open lock file {}: {}", path, std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    ssize_t got = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    std::string pid = got > 0 ? std::string(holder, static_cast<size_t>(got)) : "unknown";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return errorStatus(ErrorCode::kUnavailable,
                       "{} {} is in use by another titand (pid {}); stop it or set a different "
                       "{}",
                       what, dir, pid, setting);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    componentLogger("store")->warn("cannot write pid to {}: {}", path, std::strerror(errno));
  }
  return fd;
}

Result<std::unique_ptr<Store>> Store::open(const Options& options) {
  std::error_code error;
  std::filesystem::create_directories(options.dir, error);
  if (error) {
    return errorStatus(ErrorCode::kIo, "cannot create state directory {}: {}", options.dir,
                       error.message());
  }
  auto lock = lockDirectory(options.dir, "titand.lock", "state directory", "state_dir");
  if (!lock.isOk()) return lock.status();

  std::unique_ptr<Store> store(new Store());
  store->lock_fd_ = lock.value();
  TITAND_RETURN_IF_ERROR(store->openDb(options));
  TITAND_RETURN_IF_ERROR(store->loadHosts());
  return store;
}

Status Store::openDb(const Options& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.db_write_buffer_size = options.write_buffer_mb << 20;
  db_options.max_total_wal_size = 4 * (options.write_buffer_mb << 20);
  db_options.keep_log_file_num = 4;
  db_options.manual_wal_flush = false;

  rocksdb::BlockBasedTableOptions table;
  // RocksDB's default of 64 cache shards gives a 32 MiB cache 512 KiB shards, smaller than the
  // index block of a file with a million items, which then cannot stay cached and is re-read
  // on every lookup. Partitioned indexes keep cached index blocks small, and fewer shards
  // leave room for the top-level index.
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_mb << 20, /*num_shard_bits=*/4);
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

  rocksdb::ColumnFamilyOptions family_options;
  family_options.write_buffer_size = std::max<uint64_t>(4, options.write_buffer_mb / 4) << 20;
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  family_options.compression = rocksdb::kNoCompression;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kFamilies) {
    rocksdb::ColumnFamilyOptions cf = family_options;
    if (std::string_view(name) == kCountsFamily) {
      cf.merge_operator = std::make_shared<Int64AddOperator>();
    }
    if (std::string_view(name) == kQueueFamily || std::string_view(name) == kInflightFamily) {
      // Queue entries are deleted as fast as they are added; compact files full of
      // tombstones early so scans from the head stay short.
      cf.table_properties_collector_factories.push_back(
          rocksdb::NewCompactOnDeletionCollectorFactory(4096, 2048, 0.5));
    }
    descriptors.emplace_back(name, cf);
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(rocksdb::DBOptions(db_options), options.dir + "/db",
                                             descriptors, &handles_, &raw);
  if (!status.ok()) {
    return fromRocks(status, fmt::format("cannot open RocksDB in {}/db", options.dir));
  }
  db_.reset(raw);
  for (size_t i = 0; i < handles_.size(); ++i) by_name_[kFamilies[i]] = handles_[i];
  write_options_.sync = options.durability == Durability::kSync;

  std::string version;
  status = db_->Get(rocksdb::ReadOptions(), std::string(kSchemaVersionKey), &version);
  if (status.IsNotFound()) {
    return fromRocks(
        db_->Put(write_options_, std::string(kSchemaVersionKey), encodeU32(kSchemaVersion)),
        "cannot write schema version");
  }
  TITAND_RETURN_IF_ERROR(fromRocks(status, "cannot read schema version"));
  if (decodeU32(version) != kSchemaVersion) {
    return errorStatus(ErrorCode::kCorruption,
                       "state in {} has schema version {}, this titand reads version {}",
                       options.dir, decodeU32(version), kSchemaVersion);
  }
  return Status::ok();
}

Status Store::loadHosts() {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), family(kHostsFamily)));
  host_origins_.assign(1, "");
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint32_t id = decodeU32(it->value().ToStringView());
    std::string origin = it->key().ToString();
    if (id >= host_origins_.size()) host_origins_.resize(id + 1);
    host_origins_[id] = origin;
    host_ids_[origin] = id;
  }
  return fromRocks(it->status(), "cannot read hosts");
}

Store::~Store() {
  for (auto* handle : handles_) {
    if (db_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  if (db_) db_->Close().PermitUncheckedError();
  db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

rocksdb::ColumnFamilyHandle* Store::family(const char* name) const {
  if (name == rocksdb::kDefaultColumnFamilyName) return handles_[0];
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Status Store::write(rocksdb::WriteBatch* batch) {
  return fromRocks(db_->Write(write_options_, batch), "write failed");
}

Result<std::optional<model::WorkItem>> Store::getItem(const model::ItemKey& key) {
  std::string value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), family(kItemsFamily), key.encode(), &value);
  if (status.IsNotFound()) return std::optional<model::WorkItem>();
  TITAND_RETURN_IF_ERROR(fromRocks(status, "cannot read item"));
  auto item = model::WorkItem::decode(value);
  if (!item.isOk()) return item.status();
  return std::optional<model::WorkItem>(std::move(item.value()));
}

std::vector<Result<model::WorkItem>> Store::multiGetItems(const std::vector<model::ItemKey>& keys) {
  std::vector<std::string> encoded;
  encoded.reserve(keys.size());
  for (const auto& key : keys) encoded.push_back(key.encode());
  std::vector<rocksdb::Slice> slices(encoded.begin(), encoded.end());
  std::vector<rocksdb::ColumnFamilyHandle*> families(keys.size(), family(kItemsFamily));
  std::vector<std::string> values;
  std::vector<rocksdb::Status> statuses =
      db_->MultiGet(rocksdb::ReadOptions(), families, slices, &values);
  std::vector<Result<model::WorkItem>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      out.emplace_back(Status(ErrorCode::kNotFound, "item " + keys[i].toString() + " not found"));
    } else if (!statuses[i].ok()) {
      out.emplace_back(fromRocks(statuses[i], "cannot read item " + keys[i].toString()));
    } else {
      out.emplace_back(model::WorkItem::decode(values[i]));
    }
  }
  return out;
}

Result<std::optional<model::Execution>> Store::getExecution(const model::Id& id) {
  std::string value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), family(kExecutionsFamily), idKey(id), &value);
  if (status.IsNotFound()) return std::optional<model::Execution>();
  TITAND_RETURN_IF_ERROR(fromRocks(status, "cannot read execution"));
  auto execution = model::Execution::fromJson(value);
  if (!execution.isOk()) return execution.status();
  return std::optional<model::Execution>(std::move(execution.value()));
}

Result<std::optional<std::string>> Store::getTaskJson(const model::Id& id) {
  std::string value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), family(kTasksFamily), idKey(id), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  TITAND_RETURN_IF_ERROR(fromRocks(status, "cannot read task"));
  return std::optional<std::string>(std::move(value));
}

StateCounts Store::getCounts(const model::Id& execution) {
  StateCounts counts{};
  for (int state = 0; state < model::kItemStateCount; ++state) {
    std::string value;
    if (db_->Get(rocksdb::ReadOptions(), family(kCountsFamily),
                 countKey(execution, static_cast<model::ItemState>(state)), &value)
            .ok()) {
      counts[state] = decodeCount(value);
    }
  }
  return counts;
}

Result<std::optional<std::string>> Store::getFileRecord(const std::string& sha256_hex) {
  std::string value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), family(kFilesFamily), sha256_hex, &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  TITAND_RETURN_IF_ERROR(fromRocks(status, "cannot read file record"));
  return std::optional<std::string>(std::move(value));
}

uint32_t Store::hostIdFor(const std::string& origin, rocksdb::WriteBatch* batch) {
  std::lock_guard lock(hosts_mutex_);
  uint32_t id;
  if (auto it = host_ids_.find(origin); it != host_ids_.end()) {
    id = it->second;
  } else {
    id = static_cast<uint32_t>(host_origins_.size());
    host_origins_.push_back(origin);
    host_ids_[origin] = id;
  }
  batch->Put(family(kHostsFamily), origin, encodeU32(id)).PermitUncheckedError();
  return id;
}

std::string Store::originOf(uint32_t host_id) const {
  std::lock_guard lock(hosts_mutex_);
  return host_id < host_origins_.size() ? host_origins_[host_id] : std::string();
}

std::vector<std::pair<uint32_t, std::string>> Store::hosts() const {
  std::lock_guard lock(hosts_mutex_);
  std::vector<std::pair<uint32_t, std::string>> out;
  for (uint32_t id = 1; id < host_origins_.size(); ++id) out.emplace_back(id, host_origins_[id]);
  return out;
}

void Store::putItem(rocksdb::WriteBatch* batch, const model::WorkItem& item) {
  batch->Put(family(kItemsFamily), item.key.encode(), item.encode()).PermitUncheckedError();
}

void Store::addCount(rocksdb::WriteBatch* batch, const model::Id& execution, model::ItemState state,
                     int64_t delta) {
  batch->Merge(family(kCountsFamily), countKey(execution, state), encodeCountDelta(delta))
      .PermitUncheckedError();
  batch->Merge(family(kCountsFamily), countKey(kAllExecutions, state), encodeCountDelta(delta))
      .PermitUncheckedError();
}

uint64_t Store::estimateKeys(const char* name) const {
  uint64_t keys = 0;
  db_->GetIntProperty(family(name), "rocksdb.estimate-num-keys", &keys);
  return keys;
}

}  // namespace titand::store
