#include "ingest/task_parser.h"

#include <array>
#include <cctype>
#include <optional>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

namespace titand::ingest {
namespace {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxObjectiveBytes = 4096;
// Values quoted in a reason are cut to this many bytes so one bad line stays readable.
constexpr size_t kMaxQuotedBytes = 120;
// Nesting limit of payload values. The parser's own limit is DEFAULT_MAX_DEPTH levels counted
// from the line's root object, and exceeding it is undefined behaviour in simdjson 3.0 (an
// assertion in debug builds), so this stays a few levels below it.
constexpr size_t kMaxPayloadDepth = simdjson::DEFAULT_MAX_DEPTH - 16;

constexpr std::string_view kAllowedFields =
    "name, objective, execution_type, action_type, input_source, urls, template_slug, payload, "
    "limits";
constexpr std::array<std::string_view, 2> kTemplateSlugs = {"default", "carrier-quote-json"};
constexpr std::string_view kTemplateSlugList = "\"default\", \"carrier-quote-json\"";
// Payload keys (lower case, '-' read as '_') that name a credential.
constexpr std::array<std::string_view, 8> kCredentialKeys = {
    "api_key",  "apikey", "token",         "access_token",
    "password", "secret", "client_secret", "authorization"};

// One bit per known top-level field, to find missing and duplicate ones.
enum FieldBit : uint32_t {
  kName = 1u << 0,
  kObjective = 1u << 1,
  kExecutionType = 1u << 2,
  kActionType = 1u << 3,
  kInputSource = 1u << 4,
  kUrls = 1u << 5,
  kTemplateSlug = 1u << 6,
  kPayload = 1u << 7,
  kLimits = 1u << 8,
  kExecutionPlan = 1u << 9,
  kSecretPayload = 1u << 10,
};

constexpr std::array<std::pair<std::string_view, FieldBit>, 11> kKnownFields = {{
    {"name", kName},
    {"objective", kObjective},
    {"execution_type", kExecutionType},
    {"action_type", kActionType},
    {"input_source", kInputSource},
    {"urls", kUrls},
    {"template_slug", kTemplateSlug},
    {"payload", kPayload},
    {"limits", kLimits},
    {"execution_plan", kExecutionPlan},
    {"secret_payload", kSecretPayload},
}};

bool isJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trimTrailingSpace(std::string_view text) {
  while (!text.empty() && isJsonSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Returns `text` in double quotes, cut at a UTF-8 character boundary when it is long.
std::string quote(std::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return fmt::format("\"{}\"", text);
  size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return fmt::format("\"{}...\" ({} bytes)", text.substr(0, cut), text.size());
}

// Returns the JSON type of `value` as a phrase for "found ..." in a reason.
std::string_view typePhrase(ondemand::value& value) {
  ondemand::json_type type;
  if (value.type().get(type) != SUCCESS) return "an invalid value";
  switch (type) {
    case ondemand::json_type::array:
      return "an array";
    case ondemand::json_type::object:
      return "an object";
    case ondemand::json_type::number:
      return "a number";
    case ondemand::json_type::string:
      return "a string";
    case ondemand::json_type::boolean:
      return "a boolean";
    case ondemand::json_type::null:
      return "null";
  }
  return "an invalid value";
}

// Reads `value` through to its end so that a malformed token is reported as invalid JSON rather
// than as a value of the wrong type.
error_code appendMinified(ondemand::value value, std::string* out, size_t depth);

error_code checkSyntax(ondemand::value& value) {
  std::string scratch;
  return appendMinified(value, &scratch, 1);
}

// Maps a key to the form the credential list uses: lower case, '-' read as '_'.
std::string normalizedKey(std::string_view key) {
  std::string normalized;
  normalized.reserve(key.size());
  for (char c : key) {
    normalized.push_back(c == '-' ? '_'
                                  : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return normalized;
}

bool isCredentialKey(std::string_view key) {
  std::string normalized = normalizedKey(key);
  for (std::string_view credential : kCredentialKeys) {
    if (normalized == credential) return true;
  }
  return false;
}

error_code appendMinified(ondemand::value value, std::string* out, size_t depth);

error_code appendMinifiedArray(ondemand::array array, std::string* out, size_t depth) {
  out->push_back('[');
  bool first = true;
  for (auto element : array) {
    ondemand::value item;
    SIMDJSON_TRY(element.get(item));
    if (!first) out->push_back(',');
    first = false;
    SIMDJSON_TRY(appendMinified(item, out, depth + 1));
  }
  out->push_back(']');
  return SUCCESS;
}

error_code appendMinifiedObject(ondemand::object object, std::string* out, size_t depth) {
  out->push_back('{');
  bool first = true;
  for (auto result : object) {
    ondemand::field field;
    SIMDJSON_TRY(std::move(result).get(field));
    std::string_view key;
    SIMDJSON_TRY(field.unescaped_key().get(key));
    if (!first) out->push_back(',');
    first = false;
    model::appendJsonString(out, key);
    out->push_back(':');
    SIMDJSON_TRY(appendMinified(field.value(), out, depth + 1));
  }
  out->push_back('}');
  return SUCCESS;
}

// Writes `value` to `out` without insignificant whitespace. Every token is read with its typed
// getter, so a value that ondemand would otherwise skip unchecked is validated too. Strings and
// numbers keep their original spelling (escapes, exponents); object keys are re-escaped.
error_code appendMinified(ondemand::value value, std::string* out, size_t depth) {
  if (depth > kMaxPayloadDepth) return simdjson::DEPTH_ERROR;
  ondemand::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  std::string_view raw;
  switch (type) {
    case ondemand::json_type::object: {
      ondemand::object object;
      SIMDJSON_TRY(value.get_object().get(object));
      return appendMinifiedObject(object, out, depth);
    }
    case ondemand::json_type::array: {
      ondemand::array array;
      SIMDJSON_TRY(value.get_array().get(array));
      return appendMinifiedArray(array, out, depth);
    }
    case ondemand::json_type::string: {
      raw = value.raw_json_token();
      std::string_view text;
      SIMDJSON_TRY(value.get_string().get(text));
      break;
    }
    case ondemand::json_type::number: {
      raw = value.raw_json_token();
      double number;
      SIMDJSON_TRY(value.get_double().get(number));
      break;
    }
    case ondemand::json_type::boolean: {
      bool flag;
      SIMDJSON_TRY(value.get_bool().get(flag));
      raw = flag ? "true" : "false";
      break;
    }
    case ondemand::json_type::null: {
      bool is_null = false;
      SIMDJSON_TRY(value.is_null().get(is_null));
      if (!is_null) return simdjson::N_ATOM_ERROR;
      raw = "null";
      break;
    }
  }
  out->append(trimTrailingSpace(raw));
  return SUCCESS;
}

// Reads the fields of one task object, collecting every FieldError on the way. Methods return
// a simdjson error only when the JSON text itself is broken; a well-formed value with the
// wrong type or content becomes a FieldError and reading goes on.
class TaskReader {
 public:
  explicit TaskReader(const ParseLimits& limits) : limits_(limits) {}

  error_code readObject(ondemand::object& object) {
    for (auto result : object) {
      ondemand::field field;
      SIMDJSON_TRY(std::move(result).get(field));
      std::string_view key;
      SIMDJSON_TRY(field.unescaped_key().get(key));
      SIMDJSON_TRY(readField(key, field.value()));
    }
    return SUCCESS;
  }

  // Adds the errors of required fields that never appeared and returns the outcome.
  ParseResult finish();

 private:
  void fail(std::string field, std::string reason) {
    errors_.push_back(FieldError{std::move(field), std::move(reason)});
  }

  error_code readField(std::string_view key, ondemand::value value);
  error_code dispatchField(FieldBit bit, ondemand::value value);
  error_code readString(ondemand::value value, const std::string& field,
                        std::optional<std::string_view>* out);
  error_code readBoundedString(ondemand::value value, const std::string& field, size_t max_bytes,
                               bool required_non_empty, std::string* out);
  error_code readExecutionType(ondemand::value value);
  error_code readActionType(ondemand::value value);
  error_code readInputSource(ondemand::value value);
  error_code readTemplateSlug(ondemand::value value);
  error_code readUrls(ondemand::value value);
  error_code readUrl(ondemand::value value, size_t index);
  error_code readPayload(ondemand::value value);
  error_code readLimits(ondemand::value value);
  error_code readInteger(ondemand::value value, const std::string& field, int64_t min, int64_t max,
                         std::optional<uint32_t>* out);

  const ParseLimits& limits_;
  model::TaskSpec spec_;
  std::vector<FieldError> errors_;
  uint32_t seen_ = 0;
  std::unordered_set<std::string> unknown_seen_;
};

error_code TaskReader::readField(std::string_view key, ondemand::value value) {
  for (const auto& [name, bit] : kKnownFields) {
    if (key != name) continue;
    if ((seen_ & bit) != 0) {
      fail(std::string(key), "duplicate key; each field may appear only once");
      return SUCCESS;
    }
    seen_ |= bit;
    return dispatchField(bit, value);
  }
  if (!unknown_seen_.emplace(key).second) {
    fail(std::string(key), "duplicate key; each field may appear only once");
    return SUCCESS;
  }
  fail(std::string(key), fmt::format("unknown field; allowed fields: {}", kAllowedFields));
  return SUCCESS;
}

error_code TaskReader::dispatchField(FieldBit bit, ondemand::value value) {
  switch (bit) {
    case kName:
      return readBoundedString(value, "name", kMaxNameBytes, true, &spec_.name);
    case kObjective:
      return readBoundedString(value, "objective", kMaxObjectiveBytes, false, &spec_.objective);
    case kExecutionType:
      return readExecutionType(value);
    case kActionType:
      return readActionType(value);
    case kInputSource:
      return readInputSource(value);
    case kUrls:
      return readUrls(value);
    case kTemplateSlug:
      return readTemplateSlug(value);
    case kPayload:
      return readPayload(value);
    case kLimits:
      return readLimits(value);
    case kExecutionPlan:
      fail("execution_plan",
           "execution plans are not supported yet; submit each action as its own task line");
      return SUCCESS;
    case kSecretPayload:
      fail("secret_payload",
           "secrets must not be written to files; supply secret_payload at run time instead");
      return SUCCESS;
  }
  return SUCCESS;
}

error_code TaskReader::readString(ondemand::value value, const std::string& field,
                                  std::optional<std::string_view>* out) {
  std::string_view text;
  error_code error = value.get_string().get(text);
  if (error == simdjson::INCORRECT_TYPE) {
    std::string_view found = typePhrase(value);
    SIMDJSON_TRY(checkSyntax(value));
    fail(field, fmt::format("must be a string, found {}", found));
    return SUCCESS;
  }
  SIMDJSON_TRY(error);
  *out = text;
  return SUCCESS;
}

error_code TaskReader::readBoundedString(ondemand::value value, const std::string& field,
                                         size_t max_bytes, bool required_non_empty,
                                         std::string* out) {
  std::optional<std::string_view> text;
  SIMDJSON_TRY(readString(value, field, &text));
  if (!text) return SUCCESS;
  if (required_non_empty && text->empty()) {
    fail(field, "must not be empty");
  } else if (text->size() > max_bytes) {
    fail(field, fmt::format("is {} bytes, over the limit of {} bytes", text->size(), max_bytes));
  } else {
    out->assign(*text);
  }
  return SUCCESS;
}

error_code TaskReader::readExecutionType(ondemand::value value) {
  std::optional<std::string_view> text;
  SIMDJSON_TRY(readString(value, "execution_type", &text));
  if (!text) return SUCCESS;
  if (*text == "single") {
    spec_.execution_type = "single";
  } else if (*text == "scheduled") {
    fail("execution_type", "scheduled tasks are not accepted by the file drop; use \"single\"");
  } else {
    fail("execution_type",
         fmt::format("unknown execution type {}; must be \"single\"", quote(*text)));
  }
  return SUCCESS;
}

error_code TaskReader::readActionType(ondemand::value value) {
  std::optional<std::string_view> text;
  SIMDJSON_TRY(readString(value, "action_type", &text));
  if (!text) return SUCCESS;
  if (*text == "api_call") {
    spec_.action_type = "api_call";
  } else if (*text == "search" || *text == "crawl" || *text == "scrape") {
    fail("action_type",
         fmt::format("{} is not supported by this daemon yet; only \"api_call\"", quote(*text)));
  } else {
    fail("action_type", fmt::format("unknown action type {}; must be \"api_call\"", quote(*text)));
  }
  return SUCCESS;
}

error_code TaskReader::readInputSource(ondemand::value value) {
  std::optional<std::string_view> text;
  SIMDJSON_TRY(readString(value, "input_source", &text));
  if (!text) return SUCCESS;
  if (*text == "static_urls") {
    spec_.input_source = "static_urls";
  } else {
    fail("input_source", fmt::format("{} is not supported by the file drop; must be "
                                     "\"static_urls\" (the URLs listed in urls)",
                                     quote(*text)));
  }
  return SUCCESS;
}

error_code TaskReader::readTemplateSlug(ondemand::value value) {
  std::optional<std::string_view> text;
  SIMDJSON_TRY(readString(value, "template_slug", &text));
  if (!text) return SUCCESS;
  for (std::string_view slug : kTemplateSlugs) {
    if (*text == slug) {
      spec_.template_slug.assign(slug);
      return SUCCESS;
    }
  }
  fail("template_slug",
       fmt::format("unknown template {}; allowed values: {}", quote(*text), kTemplateSlugList));
  return SUCCESS;
}

error_code TaskReader::readUrls(ondemand::value value) {
  ondemand::array array;
  error_code error = value.get_array().get(array);
  if (error == simdjson::INCORRECT_TYPE) {
    std::string_view found = typePhrase(value);
    SIMDJSON_TRY(checkSyntax(value));
    fail("urls",
         fmt::format("must be an array of strings (absolute http or https URLs), found {}", found));
    return SUCCESS;
  }
  SIMDJSON_TRY(error);
  size_t count = 0;
  for (auto element : array) {
    ondemand::value item;
    SIMDJSON_TRY(element.get(item));
    // URLs past the limit are counted but not read: the line is rejected anyway.
    if (count < limits_.max_urls_per_task) SIMDJSON_TRY(readUrl(item, count));
    ++count;
  }
  if (count == 0) {
    fail("urls", "must contain at least one URL");
  } else if (count > limits_.max_urls_per_task) {
    fail("urls", fmt::format("contains {} URLs, over the limit of {} per task "
                             "(spool.max_urls_per_task); split them across several tasks",
                             count, limits_.max_urls_per_task));
  }
  return SUCCESS;
}

error_code TaskReader::readUrl(ondemand::value value, size_t index) {
  std::string field = fmt::format("urls[{}]", index);
  std::string_view url;
  error_code error = value.get_string().get(url);
  if (error == simdjson::INCORRECT_TYPE) {
    std::string_view found = typePhrase(value);
    SIMDJSON_TRY(checkSyntax(value));
    fail(field, fmt::format("must be a string (an absolute http or https URL), found {}", found));
    return SUCCESS;
  }
  SIMDJSON_TRY(error);
  if (url.size() > limits_.max_url_bytes) {
    fail(field, fmt::format("URL is {} bytes, over the limit of {} bytes", url.size(),
                            limits_.max_url_bytes));
    return SUCCESS;
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      fail(field, fmt::format("invalid URL {}: contains a space or control character; "
                              "percent-encode it (a space is %20)",
                              quote(url)));
      return SUCCESS;
    }
  }
  auto origin = model::originOf(url);
  if (!origin.isOk()) {
    fail(field, fmt::format("invalid URL {}: {}", quote(url), origin.status().message()));
    return SUCCESS;
  }
  spec_.urls.emplace_back(url);
  return SUCCESS;
}

error_code TaskReader::readPayload(ondemand::value value) {
  ondemand::object object;
  error_code error = value.get_object().get(object);
  if (error == simdjson::INCORRECT_TYPE) {
    std::string_view found = typePhrase(value);
    SIMDJSON_TRY(checkSyntax(value));
    fail("payload", fmt::format("must be a JSON object, found {}", found));
    return SUCCESS;
  }
  SIMDJSON_TRY(error);
  std::string out = "{";
  std::unordered_set<std::string> keys;
  for (auto result : object) {
    ondemand::field field;
    SIMDJSON_TRY(std::move(result).get(field));
    std::string_view key;
    SIMDJSON_TRY(field.unescaped_key().get(key));
    std::string path = fmt::format("payload.{}", key);
    if (!keys.emplace(key).second) fail(path, "duplicate key; each field may appear only once");
    if (isCredentialKey(key)) {
      fail(path,
           "looks like a credential; secrets must not be written to files, so pass it "
           "in secret_payload at run time");
    }
    if (out.size() > 1) out.push_back(',');
    model::appendJsonString(&out, key);
    out.push_back(':');
    SIMDJSON_TRY(appendMinified(field.value(), &out, 2));
  }
  out.push_back('}');
  spec_.payload_json = std::move(out);
  return SUCCESS;
}

error_code TaskReader::readLimits(ondemand::value value) {
  ondemand::object object;
  error_code error = value.get_object().get(object);
  if (error == simdjson::INCORRECT_TYPE) {
    std::string_view found = typePhrase(value);
    SIMDJSON_TRY(checkSyntax(value));
    fail("limits", fmt::format("must be a JSON object with timeout_seconds and max_retries, "
                               "found {}",
                               found));
    return SUCCESS;
  }
  SIMDJSON_TRY(error);
  bool seen_timeout = false;
  bool seen_retries = false;
  for (auto result : object) {
    ondemand::field field;
    SIMDJSON_TRY(std::move(result).get(field));
    std::string_view key;
    SIMDJSON_TRY(field.unescaped_key().get(key));
    std::string path = fmt::format("limits.{}", key);
    bool is_timeout = key == "timeout_seconds";
    bool is_retries = key == "max_retries";
    if (!is_timeout && !is_retries) {
      fail(path, "unknown field; allowed fields: timeout_seconds, max_retries");
    } else if ((is_timeout && seen_timeout) || (is_retries && seen_retries)) {
      fail(path, "duplicate key; each field may appear only once");
    } else if (is_timeout) {
      seen_timeout = true;
      SIMDJSON_TRY(readInteger(field.value(), path, 1, 600, &spec_.limits.timeout_seconds));
    } else {
      seen_retries = true;
      SIMDJSON_TRY(readInteger(field.value(), path, 0, 20, &spec_.limits.max_retries));
    }
  }
  return SUCCESS;
}

error_code TaskReader::readInteger(ondemand::value value, const std::string& field, int64_t min,
                                   int64_t max, std::optional<uint32_t>* out) {
  ondemand::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  if (type != ondemand::json_type::number) {
    std::string_view found = typePhrase(value);
    SIMDJSON_TRY(checkSyntax(value));
    fail(field, fmt::format("must be an integer from {} to {}, found {}", min, max, found));
    return SUCCESS;
  }
  std::string_view raw;
  raw = value.raw_json_token();
  int64_t number = 0;
  error_code error = value.get_int64().get(number);
  if (error == simdjson::INCORRECT_TYPE || error == simdjson::NUMBER_ERROR ||
      error == simdjson::NUMBER_OUT_OF_RANGE) {
    fail(field, fmt::format("must be an integer from {} to {}, found {}", min, max,
                            trimTrailingSpace(raw)));
    return SUCCESS;
  }
  SIMDJSON_TRY(error);
  if (number < min || number > max) {
    fail(field, fmt::format("is {}, must be from {} to {}", number, min, max));
    return SUCCESS;
  }
  *out = static_cast<uint32_t>(number);
  return SUCCESS;
}

ParseResult TaskReader::finish() {
  if ((seen_ & kName) == 0) fail("name", "required field is missing");
  if ((seen_ & kExecutionType) == 0) {
    fail("execution_type", "required field is missing; set it to \"single\"");
  }
  if ((seen_ & kActionType) == 0) {
    fail("action_type", "required field is missing; set it to \"api_call\"");
  }
  if ((seen_ & kInputSource) == 0) {
    fail("input_source", "required field is missing; set it to \"static_urls\"");
  }
  if ((seen_ & kUrls) == 0) {
    fail("urls", "required field is missing; list the absolute http or https URLs to call");
  }
  if (!errors_.empty()) return std::move(errors_);
  return std::move(spec_);
}

std::string invalidJsonReason(error_code error, std::optional<size_t> byte) {
  std::string near = byte ? fmt::format(" near byte {}", *byte + 1) : "";
  std::string_view message = simdjson::error_message(error);
  // simdjson's messages end in a full stop, and the reason goes on after them.
  while (message.ends_with('.')) message.remove_suffix(1);
  switch (error) {
    case simdjson::UTF8_ERROR:
      return fmt::format("invalid UTF-8: {}; save the file as UTF-8", message);
    case simdjson::UNESCAPED_CHARS:
      return fmt::format(
          "invalid JSON{}: {}; write tabs and line breaks inside strings as "
          "\\t and \\n",
          near, message);
    case simdjson::DEPTH_ERROR:
      return fmt::format("invalid JSON{}: {}; the limit is {} levels", near, message,
                         kMaxPayloadDepth);
    default:
      return fmt::format(
          "invalid JSON{}: {}; each line must be one complete JSON object, so "
          "check its quotes, commas and brackets",
          near, message);
  }
}

ParseResult wholeLineError(std::string reason) {
  return std::vector<FieldError>{FieldError{"", std::move(reason)}};
}

constexpr const char* kNotAnObject =
    "must be a JSON object (one task per line, such as {\"name\":...,\"urls\":[...]})";

// Returns the offset of the ondemand iterator inside `json`, when it points there.
std::optional<size_t> offsetIn(ondemand::document& document, std::string_view json) {
  const char* location = nullptr;
  if (document.current_location().get(location) != SUCCESS) return std::nullopt;
  if (location < json.data() || location > json.data() + json.size()) return std::nullopt;
  return static_cast<size_t>(location - json.data());
}

ParseResult trailingTextError(size_t offset) {
  return wholeLineError(
      fmt::format("unexpected text after the JSON object at byte {}; put each task on its own line",
                  offset + 1));
}

// Returns the offset of the first non-space byte after the top-level object that `json` starts
// with, when the object closes before the end of the text.
std::optional<size_t> textAfterFirstObject(std::string_view json) {
  size_t i = 0;
  while (i < json.size() && isJsonSpace(json[i])) ++i;
  if (i == json.size() || json[i] != '{') return std::nullopt;
  size_t depth = 0;
  bool in_string = false;
  for (; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      ++i;
      while (i < json.size() && isJsonSpace(json[i])) ++i;
      if (i < json.size()) return i;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

ParseResult parseTask(std::string_view json, const ParseLimits& limits, ondemand::parser& parser) {
  simdjson::padded_string padded(json);
  return parseTask(simdjson::padded_string_view(padded), limits, parser);
}

ParseResult parseTask(simdjson::padded_string_view json, const ParseLimits& limits,
                      ondemand::parser& parser) {
  ondemand::document document;
  error_code error = parser.iterate(json).get(document);
  if (error) return wholeLineError(invalidJsonReason(error, std::nullopt));
  ondemand::object object;
  error = document.get_object().get(object);
  TaskReader reader(limits);
  if (error == simdjson::INCORRECT_TYPE) return wholeLineError(kNotAnObject);
  if (!error) error = reader.readObject(object);
  if (error == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) {
    // simdjson reports a complete object followed by a bare word as an unclosed object.
    if (auto trailing = textAfterFirstObject(json)) return trailingTextError(*trailing);
  }
  if (error) return wholeLineError(invalidJsonReason(error, offsetIn(document, json)));
  if (auto trailing = offsetIn(document, json)) return trailingTextError(*trailing);
  return reader.finish();
}

ParseResult parseTaskDocument(ondemand::document_reference document, const ParseLimits& limits,
                              bool* invalid_json) {
  *invalid_json = false;
  ondemand::object object;
  error_code error = document.get_object().get(object);
  if (error == simdjson::INCORRECT_TYPE) return wholeLineError(kNotAnObject);
  if (!error) {
    TaskReader reader(limits);
    error = reader.readObject(object);
    if (!error) return reader.finish();
  }
  *invalid_json = true;
  return wholeLineError(invalidJsonReason(error, std::nullopt));
}

}  // namespace titand::ingest
