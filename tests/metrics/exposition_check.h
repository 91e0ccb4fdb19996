// Test helpers that parse Prometheus text exposition output back, line by line.
//
// Thread safety: plain functions. Errors: findExpositionError returns a message naming the
// first bad line, and findSampleValue returns nullopt for a missing sample.
#pragma once

#include <cctype>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace titand::metrics::testing {

// A cursor over one line of exposition text. Each consume method advances past what it
// matched and returns false, leaving the position unspecified, when the text does not match.
class ExpositionLineParser {
 public:
  explicit ExpositionLineParser(std::string_view line) : line_(line) {}

  std::string_view rest() const { return line_.substr(pos_); }

  bool consumeLiteral(std::string_view literal) {
    if (line_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  // Consumes [a-zA-Z_:][a-zA-Z0-9_:]* into `name`, or the same without ':' for label names.
  bool consumeName(bool allow_colon, std::string* name) {
    size_t start = pos_;
    while (pos_ < line_.size()) {
      char c = line_[pos_];
      bool letter =
          std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (allow_colon && c == ':');
      bool digit = std::isdigit(static_cast<unsigned char>(c)) && pos_ > start;
      if (!letter && !digit) break;
      ++pos_;
    }
    *name = std::string(line_.substr(start, pos_ - start));
    return pos_ > start;
  }

  // Consumes "..." in which the only escapes are \\, \" and \n.
  bool consumeQuotedLabelValue() {
    if (!consumeLiteral("\"")) return false;
    while (pos_ < line_.size()) {
      char c = line_[pos_++];
      if (c == '"') return true;
      if (c != '\\') continue;
      if (pos_ == line_.size()) return false;
      char escaped = line_[pos_++];
      if (escaped != '\\' && escaped != '"' && escaped != 'n') return false;
    }
    return false;
  }

  // Consumes {name="value",...} with at least one pair.
  bool consumeLabels() {
    if (!consumeLiteral("{")) return false;
    std::string label;
    do {
      if (!consumeName(false, &label) || !consumeLiteral("=")) return false;
      if (!consumeQuotedLabelValue()) return false;
    } while (consumeLiteral(","));
    return consumeLiteral("}");
  }

  // Consumes the rest of the line as NaN, +Inf, -Inf or -?digits(.digits)?(e[+-]digits)?.
  bool consumeValueToEnd() {
    std::string_view rest = line_.substr(pos_);
    pos_ = line_.size();
    if (rest == "NaN" || rest == "+Inf" || rest == "-Inf") return true;
    size_t i = 0;
    auto digits = [&rest, &i] {
      size_t start = i;
      while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
      return i > start;
    };
    if (i < rest.size() && rest[i] == '-') ++i;
    if (!digits()) return false;
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      if (!digits()) return false;
    }
    if (i < rest.size() && rest[i] == 'e') {
      ++i;
      if (i == rest.size() || (rest[i] != '+' && rest[i] != '-')) return false;
      ++i;
      if (!digits()) return false;
    }
    return i == rest.size();
  }

 private:
  std::string_view line_;
  size_t pos_ = 0;
};

// Returns whether `name` is a family in `type_by_family`, or a histogram's _bucket, _sum
// or _count series.
inline bool hasTypeLine(const std::map<std::string, std::string>& type_by_family,
                        std::string_view name) {
  if (type_by_family.count(std::string(name)) > 0) return true;
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (!name.ends_with(suffix)) continue;
    auto it = type_by_family.find(std::string(name.substr(0, name.size() - suffix.size())));
    if (it != type_by_family.end() && it->second == "histogram") return true;
  }
  return false;
}

// Checks that every line is a HELP or TYPE comment or a sample `name{labels} value`, and
// that each sample follows a TYPE line of its family. Histogram samples may carry the
// _bucket, _sum and _count suffixes. Returns "" when valid, else the first bad line.
inline std::string findExpositionError(const std::string& text) {
  if (!text.empty() && text.back() != '\n') return "output does not end with a newline";

  std::map<std::string, std::string> type_by_family;
  std::istringstream lines(text);
  std::string line;
  std::string name;
  while (std::getline(lines, line)) {
    ExpositionLineParser parser(line);
    if (parser.consumeLiteral("# HELP ")) {
      if (!parser.consumeName(true, &name) || !parser.consumeLiteral(" ")) {
        return "malformed HELP line: " + line;
      }
      continue;
    }
    if (parser.consumeLiteral("# TYPE ")) {
      if (!parser.consumeName(true, &name) || !parser.consumeLiteral(" ")) {
        return "malformed TYPE line: " + line;
      }
      std::string type(parser.rest());
      if (type != "counter" && type != "gauge" && type != "histogram") {
        return "unknown type in line: " + line;
      }
      type_by_family[name] = type;
      continue;
    }
    bool valid = parser.consumeName(true, &name);
    if (valid && !parser.consumeLiteral(" ")) {
      valid = parser.consumeLabels() && parser.consumeLiteral(" ");
    }
    if (!valid || !parser.consumeValueToEnd()) return "malformed line: " + line;
    if (!hasTypeLine(type_by_family, name)) {
      return "sample without a TYPE line for its family: " + line;
    }
  }
  return "";
}

// Returns the value of the first sample line that starts with `series` followed by a space,
// such as `process_open_fds` or `x_total{a="b"}`, or nullopt when there is none.
inline std::optional<double> findSampleValue(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace titand::metrics::testing
