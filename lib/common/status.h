// Status and Result: the one error model of titand's libraries.
//
// Fallible library code returns a [[nodiscard]] Status or Result<T>. Dropping one without
// looking takes an explicit ignoreError() call. Exceptions never cross the event loop:
// code that calls a throwing library (toml++, CLI11, std::filesystem) converts at the call.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace titand {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // Bad input from a user: config, NDJSON, API request.
  kNotFound,
  kAlreadyExists,
  kIo,           // File system or RocksDB I/O failure.
  kCorruption,   // Stored data that does not decode.
  kUnavailable,  // A resource held by someone else, such as the state directory lock.
  kInternal,     // A bug or an unexpected library failure.
};

const char* errorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool isOk() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string toString() const;

  // Marks a status as deliberately not acted on.
  void ignoreError() const {}

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

template <typename... Args>
Status errorStatus(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  return Status(code, fmt::format(format, std::forward<Args>(args)...));
}

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}         // NOLINT: implicit by design.
  Result(Status status) : data_(std::move(status)) {}  // NOLINT: implicit by design.

  bool isOk() const { return data_.index() == 0; }
  const Status& status() const {
    static const Status kOkStatus;
    return isOk() ? kOkStatus : std::get<1>(data_);
  }
  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace titand

#define TITAND_RETURN_IF_ERROR(expr)     \
  do {                                   \
    ::titand::Status status_ = (expr);   \
    if (!status_.isOk()) return status_; \
  } while (false)
