#include "store/schema.h"

#include <cstring>

namespace titand::store {

std::string encodeU32(uint32_t value) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (24 - 8 * i));
  return out;
}

std::string encodeU64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(value >> (56 - 8 * i));
  return out;
}

uint32_t decodeU32(std::string_view bytes) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4 && i < bytes.size(); ++i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return value;
}

uint64_t decodeU64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return value;
}

std::string queueKeyPrefix(uint32_t host_id, Micros due) {
  return encodeU32(host_id) + encodeU64(static_cast<uint64_t>(due < 0 ? 0 : due));
}

std::string queueKey(uint32_t host_id, Micros due, const model::ItemKey& item) {
  return queueKeyPrefix(host_id, due) + item.encode();
}

Result<DecodedQueueKey> decodeQueueKey(std::string_view key) {
  if (key.size() != kQueueKeySize) {
    return errorStatus(ErrorCode::kCorruption, "queue key has {} bytes, expected {}", key.size(),
                       kQueueKeySize);
  }
  DecodedQueueKey decoded;
  decoded.host_id = decodeU32(key.substr(0, 4));
  decoded.due = static_cast<Micros>(decodeU64(key.substr(4, 8)));
  auto item = model::ItemKey::decode(key.substr(12));
  if (!item.isOk()) return item.status();
  decoded.item = item.value();
  return decoded;
}

std::string idKey(const model::Id& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

std::string countKey(const model::Id& execution, model::ItemState state) {
  std::string key = idKey(execution);
  key.push_back(static_cast<char>(state));
  return key;
}

std::string encodeCountDelta(int64_t delta) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &delta, 8);
  return out;
}

int64_t decodeCount(std::string_view value) {
  int64_t count = 0;
  if (value.size() == 8) std::memcpy(&count, value.data(), 8);
  return count;
}

}  // namespace titand::store
