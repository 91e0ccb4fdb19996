#include "ingest/task_parser.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace titand::ingest {
namespace {

constexpr const char* kExampleLine =
    R"({"name":"Shipping quotes","objective":"POST to the carrier quote API",)"
    R"("execution_type":"single","urls":["https://api.carrier.example/v1/quotes"],)"
    R"("action_type":"api_call","input_source":"static_urls","template_slug":"carrier-quote-json",)"
    R"("payload":{"origin_zip":"94107","weight_kg":12.5},"limits":{"timeout_seconds":20,"max_retries":2}})";

// Fields of a minimal valid line, as raw JSON values in output order.
std::vector<std::pair<std::string, std::string>> minimalFields() {
  return {{"name", R"("Shipping quotes")"},
          {"execution_type", R"("single")"},
          {"action_type", R"("api_call")"},
          {"input_source", R"("static_urls")"},
          {"urls", R"(["https://api.carrier.example/v1/quotes"])"}};
}

// Builds a line from the minimal fields: `changes` replaces or adds fields (raw JSON values),
// `removed` drops fields.
std::string lineWith(const std::vector<std::pair<std::string, std::string>>& changes,
                     const std::vector<std::string>& removed = {}) {
  auto fields = minimalFields();
  for (const auto& [key, value] : changes) {
    bool replaced = false;
    for (auto& field : fields) {
      if (field.first == key) {
        field.second = value;
        replaced = true;
      }
    }
    if (!replaced) fields.emplace_back(key, value);
  }
  std::string line = "{";
  for (const auto& [key, value] : fields) {
    bool skip = false;
    for (const auto& name : removed) skip = skip || name == key;
    if (skip) continue;
    if (line.size() > 1) line += ",";
    line += fmt::format("\"{}\":{}", key, value);
  }
  return line + "}";
}

class TaskParserTest : public ::testing::Test {
 protected:
  ParseResult parse(std::string_view json) { return parseTask(json, limits_, parser_); }

  model::TaskSpec parseValid(std::string_view json) {
    ParseResult result = parse(json);
    if (auto* errors = std::get_if<std::vector<FieldError>>(&result)) {
      for (const auto& error : *errors) {
        ADD_FAILURE() << "unexpected error on '" << error.field << "': " << error.reason;
      }
      return {};
    }
    return std::get<model::TaskSpec>(std::move(result));
  }

  std::vector<FieldError> parseInvalid(std::string_view json) {
    ParseResult result = parse(json);
    if (std::holds_alternative<model::TaskSpec>(result)) {
      ADD_FAILURE() << "line was accepted: " << json;
      return {};
    }
    return std::get<std::vector<FieldError>>(std::move(result));
  }

  ParseLimits limits_;
  simdjson::ondemand::parser parser_;
};

TEST_F(TaskParserTest, FullExampleIsValid) {
  model::TaskSpec task = parseValid(kExampleLine);
  EXPECT_EQ(task.name, "Shipping quotes");
  EXPECT_EQ(task.objective, "POST to the carrier quote API");
  EXPECT_EQ(task.execution_type, "single");
  EXPECT_EQ(task.action_type, "api_call");
  EXPECT_EQ(task.input_source, "static_urls");
  EXPECT_EQ(task.template_slug, "carrier-quote-json");
  ASSERT_EQ(task.urls.size(), 1u);
  EXPECT_EQ(task.urls[0], "https://api.carrier.example/v1/quotes");
  EXPECT_EQ(task.payload_json, R"({"origin_zip":"94107","weight_kg":12.5})");
  EXPECT_EQ(task.limits.timeout_seconds, 20u);
  EXPECT_EQ(task.limits.max_retries, 2u);
}

TEST_F(TaskParserTest, MinimalLineIsValid) {
  model::TaskSpec task = parseValid(lineWith({}));
  EXPECT_EQ(task.name, "Shipping quotes");
  EXPECT_EQ(task.objective, "");
  EXPECT_EQ(task.template_slug, "");
  EXPECT_EQ(task.payload_json, "");
  EXPECT_FALSE(task.limits.timeout_seconds.has_value());
  EXPECT_FALSE(task.limits.max_retries.has_value());
  ASSERT_EQ(task.urls.size(), 1u);
}

TEST_F(TaskParserTest, KeepsUrlOrderAndLimitBounds) {
  model::TaskSpec task = parseValid(lineWith(
      {{"urls", R"(["http://a.example/1", "HTTPS://B.example:8443/2?q=1", "http://[::1]:8080/"])"},
       {"limits", R"({"timeout_seconds": 600, "max_retries": 0})"},
       {"template_slug", R"("default")"}}));
  ASSERT_EQ(task.urls.size(), 3u);
  EXPECT_EQ(task.urls[0], "http://a.example/1");
  EXPECT_EQ(task.urls[1], "HTTPS://B.example:8443/2?q=1");
  EXPECT_EQ(task.urls[2], "http://[::1]:8080/");
  EXPECT_EQ(task.limits.timeout_seconds, 600u);
  EXPECT_EQ(task.limits.max_retries, 0u);
  EXPECT_EQ(task.template_slug, "default");
}

TEST_F(TaskParserTest, MinifiesPayload) {
  std::string payload = R"({ "a" : [ 1 , -2.50e3 , true , false , null ] ,
    "nested" : { "s" : "tab\tquote\" \u00e9" , "empty" : { } , "list" : [ ] } ,
    "k\"ey" : "x" })";
  model::TaskSpec task = parseValid(lineWith({{"payload", payload}}));
  EXPECT_EQ(task.payload_json,
            R"({"a":[1,-2.50e3,true,false,null],"nested":{"s":"tab\tquote\" \u00e9",)"
            R"("empty":{},"list":[]},"k\"ey":"x"})");
}

TEST_F(TaskParserTest, EmptyPayloadObjectIsKept) {
  model::TaskSpec task = parseValid(lineWith({{"payload", "{ }"}}));
  EXPECT_EQ(task.payload_json, "{}");
}

TEST_F(TaskParserTest, StringViewAndPaddedOverloadsAgree) {
  simdjson::padded_string padded{std::string_view(kExampleLine)};
  ParseResult result = parseTask(simdjson::padded_string_view(padded), limits_, parser_);
  ASSERT_TRUE(std::holds_alternative<model::TaskSpec>(result));
  EXPECT_EQ(std::get<model::TaskSpec>(result).payload_json, parseValid(kExampleLine).payload_json);
}

struct InvalidCase {
  const char* label;
  std::string json;
  std::string field;
  std::vector<std::string> words;  // Each must appear in the reason.
};

std::vector<InvalidCase> invalidCases() {
  std::string long_name(257, 'n');
  std::string long_objective(4097, 'o');
  return {
      {"array root", "[1,2]", "", {"must be a JSON object"}},
      {"string root", R"("task")", "", {"must be a JSON object"}},
      {"unknown field",
       lineWith({{"colour", R"("red")"}}),
       "colour",
       {"unknown field", "allowed fields", "template_slug"}},
      {"name missing", lineWith({}, {"name"}), "name", {"required", "missing"}},
      {"name empty", lineWith({{"name", R"("")"}}), "name", {"must not be empty"}},
      {"name too long",
       lineWith({{"name", "\"" + long_name + "\""}}),
       "name",
       {"257 bytes", "256 bytes"}},
      {"name number", lineWith({{"name", "42"}}), "name", {"must be a string", "a number"}},
      {"objective too long",
       lineWith({{"objective", "\"" + long_objective + "\""}}),
       "objective",
       {"4097 bytes", "4096 bytes"}},
      {"objective array",
       lineWith({{"objective", "[]"}}),
       "objective",
       {"must be a string", "an array"}},
      {"scheduled",
       lineWith({{"execution_type", R"("scheduled")"}}),
       "execution_type",
       {"scheduled tasks are not accepted by the file drop", "\"single\""}},
      {"execution type unknown",
       lineWith({{"execution_type", R"("weekly")"}}),
       "execution_type",
       {"\"weekly\"", "must be \"single\""}},
      {"execution type missing",
       lineWith({}, {"execution_type"}),
       "execution_type",
       {"missing", "\"single\""}},
      {"search action",
       lineWith({{"action_type", R"("search")"}}),
       "action_type",
       {"\"search\"", "not supported by this daemon yet", "only \"api_call\""}},
      {"crawl action",
       lineWith({{"action_type", R"("crawl")"}}),
       "action_type",
       {"\"crawl\"", "not supported by this daemon yet"}},
      {"scrape action",
       lineWith({{"action_type", R"("scrape")"}}),
       "action_type",
       {"\"scrape\"", "not supported by this daemon yet"}},
      {"action unknown",
       lineWith({{"action_type", R"("post")"}}),
       "action_type",
       {"unknown action type", "\"api_call\""}},
      {"action missing", lineWith({}, {"action_type"}), "action_type", {"missing", "api_call"}},
      {"action boolean",
       lineWith({{"action_type", "true"}}),
       "action_type",
       {"must be a string", "a boolean"}},
      {"input source",
       lineWith({{"input_source", R"("sitemap")"}}),
       "input_source",
       {"\"sitemap\"", "static_urls"}},
      {"input source missing",
       lineWith({}, {"input_source"}),
       "input_source",
       {"missing", "static_urls"}},
      {"execution plan",
       lineWith({{"execution_plan", R"([{"action_type":"api_call"}])"}}),
       "execution_plan",
       {"execution plans are not supported yet"}},
      {"secret payload",
       lineWith({{"secret_payload", R"({"api_key":"k"})"}}),
       "secret_payload",
       {"secrets must not be written to files"}},
      {"urls missing", lineWith({}, {"urls"}), "urls", {"required", "missing"}},
      {"urls empty", lineWith({{"urls", "[]"}}), "urls", {"at least one URL"}},
      {"urls string",
       lineWith({{"urls", R"("http://a.example/")"}}),
       "urls",
       {"must be an array of strings", "a string"}},
      {"url number",
       lineWith({{"urls", R"(["http://a.example/", 7])"}}),
       "urls[1]",
       {"must be a string", "a number"}},
      {"url scheme",
       lineWith({{"urls", R"(["ftp://a.example/x"])"}}),
       "urls[0]",
       {"\"ftp://a.example/x\"", "http or https"}},
      {"url relative",
       lineWith({{"urls", R"(["/v1/quotes"])"}}),
       "urls[0]",
       {"\"/v1/quotes\"", "absolute"}},
      {"url user info",
       lineWith({{"urls", R"(["https://user:pw@a.example/"])"}}),
       "urls[0]",
       {"user info"}},
      {"url fragment",
       lineWith({{"urls", R"(["https://a.example/x#part"])"}}),
       "urls[0]",
       {"fragment"}},
      {"url no host", lineWith({{"urls", R"(["https:///x"])"}}), "urls[0]", {"no host"}},
      {"url space",
       lineWith({{"urls", R"(["https://a.example/a b"])"}}),
       "urls[0]",
       {"space", "percent-encode"}},
      {"template unknown",
       lineWith({{"template_slug", R"("fancy")"}}),
       "template_slug",
       {"\"fancy\"", "\"default\"", "\"carrier-quote-json\""}},
      {"template number",
       lineWith({{"template_slug", "1"}}),
       "template_slug",
       {"must be a string"}},
      {"payload array",
       lineWith({{"payload", "[1]"}}),
       "payload",
       {"must be a JSON object", "an array"}},
      {"payload string",
       lineWith({{"payload", R"("{}")"}}),
       "payload",
       {"must be a JSON object", "a string"}},
      {"payload api key",
       lineWith({{"payload", R"({"api_key":"k"})"}}),
       "payload.api_key",
       {"credential", "secret_payload", "run time"}},
      {"payload authorization",
       lineWith({{"payload", R"({"Authorization":"Bearer x"})"}}),
       "payload.Authorization",
       {"credential", "secret_payload"}},
      {"payload client secret",
       lineWith({{"payload", R"({"Client-Secret":"x"})"}}),
       "payload.Client-Secret",
       {"credential"}},
      {"payload password",
       lineWith({{"payload", R"({"a":1,"PASSWORD":"x"})"}}),
       "payload.PASSWORD",
       {"credential"}},
      {"payload duplicate",
       lineWith({{"payload", R"({"a":1,"a":2})"}}),
       "payload.a",
       {"duplicate key"}},
      {"limits array", lineWith({{"limits", "[]"}}), "limits", {"must be a JSON object"}},
      {"timeout zero",
       lineWith({{"limits", R"({"timeout_seconds":0})"}}),
       "limits.timeout_seconds",
       {"is 0", "from 1 to 600"}},
      {"timeout too big",
       lineWith({{"limits", R"({"timeout_seconds":601})"}}),
       "limits.timeout_seconds",
       {"is 601", "from 1 to 600"}},
      {"timeout fraction",
       lineWith({{"limits", R"({"timeout_seconds":20.5})"}}),
       "limits.timeout_seconds",
       {"must be an integer", "20.5"}},
      {"timeout string",
       lineWith({{"limits", R"({"timeout_seconds":"20"})"}}),
       "limits.timeout_seconds",
       {"must be an integer", "a string"}},
      {"timeout huge",
       lineWith({{"limits", R"({"timeout_seconds":99999999999999999999})"}}),
       "limits.timeout_seconds",
       {"must be an integer", "99999999999999999999"}},
      {"retries negative",
       lineWith({{"limits", R"({"max_retries":-1})"}}),
       "limits.max_retries",
       {"is -1", "from 0 to 20"}},
      {"retries too many",
       lineWith({{"limits", R"({"max_retries":21})"}}),
       "limits.max_retries",
       {"is 21", "from 0 to 20"}},
      {"retries null",
       lineWith({{"limits", R"({"max_retries":null})"}}),
       "limits.max_retries",
       {"must be an integer", "null"}},
      {"limits unknown key",
       lineWith({{"limits", R"({"backoff_ms":5})"}}),
       "limits.backoff_ms",
       {"unknown field", "timeout_seconds", "max_retries"}},
      {"limits duplicate",
       lineWith({{"limits", R"({"max_retries":1,"max_retries":2})"}}),
       "limits.max_retries",
       {"duplicate key"}},
  };
}

TEST_F(TaskParserTest, RejectsEachRuleWithFieldAndReason) {
  for (const InvalidCase& test : invalidCases()) {
    SCOPED_TRACE(test.label);
    std::vector<FieldError> errors = parseInvalid(test.json);
    ASSERT_EQ(errors.size(), 1u) << test.json;
    EXPECT_EQ(errors[0].field, test.field);
    for (const std::string& word : test.words) {
      EXPECT_NE(errors[0].reason.find(word), std::string::npos)
          << "reason '" << errors[0].reason << "' lacks '" << word << "'";
    }
  }
}

TEST_F(TaskParserTest, RejectsDuplicateTopLevelKey) {
  std::string json = lineWith({});
  json.insert(1, R"("name":"first",)");
  std::vector<FieldError> errors = parseInvalid(json);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "name");
  EXPECT_NE(errors[0].reason.find("duplicate key"), std::string::npos);
}

TEST_F(TaskParserTest, RejectsRepeatedUnknownField) {
  std::vector<FieldError> errors =
      parseInvalid(R"({"extra":1,"extra":2,)" + lineWith({}).substr(1));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].field, "extra");
  EXPECT_NE(errors[0].reason.find("unknown field"), std::string::npos);
  EXPECT_EQ(errors[1].field, "extra");
  EXPECT_NE(errors[1].reason.find("duplicate key"), std::string::npos);
}

TEST_F(TaskParserTest, ReportsEveryProblemOfALine) {
  std::string json = R"({"name":"","execution_type":"scheduled","action_type":"crawl",)"
                     R"("urls":["http://ok.example/","mailto:x","https://a.example/#f"],)"
                     R"("limits":{"timeout_seconds":0,"max_retries":99,"jitter":1},"color":"red"})";
  std::vector<FieldError> errors = parseInvalid(json);
  std::vector<std::string> fields;
  for (const auto& error : errors) fields.push_back(error.field);
  std::vector<std::string> expected = {"name",
                                       "execution_type",
                                       "action_type",
                                       "urls[1]",
                                       "urls[2]",
                                       "limits.timeout_seconds",
                                       "limits.max_retries",
                                       "limits.jitter",
                                       "color",
                                       "input_source"};
  EXPECT_EQ(fields, expected);
}

TEST_F(TaskParserTest, EnforcesUrlCountAndLength) {
  limits_.max_urls_per_task = 3;
  limits_.max_url_bytes = 40;
  std::vector<FieldError> errors = parseInvalid(
      lineWith({{"urls", R"(["http://a.example/1","http://a.example/2","http://a.example/3",)"
                         R"("http://a.example/4"])"}}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "urls");
  EXPECT_NE(errors[0].reason.find("4 URLs"), std::string::npos) << errors[0].reason;
  EXPECT_NE(errors[0].reason.find("limit of 3"), std::string::npos) << errors[0].reason;
  EXPECT_NE(errors[0].reason.find("spool.max_urls_per_task"), std::string::npos);

  std::string long_url = "http://a.example/" + std::string(30, 'p');
  errors = parseInvalid(lineWith({{"urls", "[\"" + long_url + "\"]"}}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "urls[0]");
  EXPECT_NE(errors[0].reason.find("47 bytes"), std::string::npos) << errors[0].reason;
  EXPECT_NE(errors[0].reason.find("limit of 40 bytes"), std::string::npos);

  model::TaskSpec task = parseValid(
      lineWith({{"urls", R"(["http://a.example/1","http://a.example/2","http://a.example/3"])"}}));
  EXPECT_EQ(task.urls.size(), 3u);
}

TEST_F(TaskParserTest, CutsLongValuesInReasons) {
  std::string slug(500, 's');
  std::vector<FieldError> errors = parseInvalid(lineWith({{"template_slug", "\"" + slug + "\""}}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_LT(errors[0].reason.size(), 300u);
  EXPECT_NE(errors[0].reason.find("(500 bytes)"), std::string::npos) << errors[0].reason;
}

struct SyntaxCase {
  const char* label;
  std::string json;
  std::vector<std::string> words;
};

TEST_F(TaskParserTest, RejectsBrokenJsonForWholeLine) {
  std::string valid = lineWith({});
  std::vector<SyntaxCase> cases = {
      {"bare word", R"({"name": broken})", {"invalid JSON", "quotes, commas and brackets"}},
      {"unclosed object", R"({"name":"a")", {"invalid JSON"}},
      {"trailing comma", valid.substr(0, valid.size() - 1) + ",}", {"invalid JSON"}},
      {"second object", valid + valid, {"unexpected text after the JSON object", "own line"}},
      {"trailing word",
       valid + " xyz",
       {"unexpected text", "byte " + std::to_string(valid.size() + 2)}},
      {"invalid UTF-8", lineWith({{"name", "\"caf\xC3\x28\""}}), {"invalid UTF-8"}},
      {"raw tab in string", lineWith({{"name", "\"a\tb\""}}), {"invalid JSON", "\\t"}},
      {"bad escape", lineWith({{"name", R"("a\qb")"}}), {"invalid JSON"}},
      {"bad literal in payload", lineWith({{"payload", R"({"a":tru})"}}), {"invalid JSON"}},
      {"bad number in payload", lineWith({{"payload", R"({"a":01})"}}), {"invalid JSON"}},
      {"empty text", "", {"invalid JSON"}},
  };
  for (const SyntaxCase& test : cases) {
    SCOPED_TRACE(test.label);
    std::vector<FieldError> errors = parseInvalid(test.json);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].field, "");
    for (const std::string& word : test.words) {
      EXPECT_NE(errors[0].reason.find(word), std::string::npos)
          << "reason '" << errors[0].reason << "' lacks '" << word << "'";
    }
  }
}

TEST_F(TaskParserTest, RejectsPayloadNestedTooDeep) {
  std::string deep = std::string(2000, '[') + std::string(2000, ']');
  std::vector<FieldError> errors = parseInvalid(lineWith({{"payload", "{\"a\":" + deep + "}"}}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "");
  EXPECT_NE(errors[0].reason.find("invalid JSON"), std::string::npos) << errors[0].reason;
}

TEST_F(TaskParserTest, DeepValuesOutsidePayloadAreRejected) {
  // Deep nesting must end in an error wherever it sits, never in a parser overrun.
  std::string deep = std::string(3000, '[') + std::string(3000, ']');
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, std::string>>{{"unknown_field", deep},
                                                        {"urls", deep},
                                                        {"limits", "{\"x\":" + deep + "}"},
                                                        {"name", deep}}) {
    SCOPED_TRACE(field);
    std::vector<FieldError> errors = parseInvalid(lineWith({{field, value}}));
    EXPECT_FALSE(errors.empty());
  }
}

TEST_F(TaskParserTest, AcceptsPayloadAtDepthLimit) {
  std::string nested = std::string(1000, '[') + std::string(1000, ']');
  model::TaskSpec task = parseValid(lineWith({{"payload", "{\"a\":" + nested + "}"}}));
  EXPECT_EQ(task.payload_json, "{\"a\":" + nested + "}");
}

TEST_F(TaskParserTest, DocumentOverloadFlagsInvalidJson) {
  std::string text =
      lineWith({}) + "\n" + R"({"name": broken})" + "\n" + lineWith({{"name", "7"}}) + "\n";
  simdjson::padded_string padded(text);
  simdjson::ondemand::document_stream stream;
  ASSERT_EQ(parser_.iterate_many(padded).get(stream), simdjson::SUCCESS);
  std::vector<bool> invalid;
  std::vector<size_t> error_counts;
  for (auto it = stream.begin(); it != stream.end(); ++it) {
    auto document = *it;
    if (document.error()) break;
    bool invalid_json = false;
    ParseResult result = parseTaskDocument(document.value_unsafe(), limits_, &invalid_json);
    invalid.push_back(invalid_json);
    auto* errors = std::get_if<std::vector<FieldError>>(&result);
    error_counts.push_back(errors ? errors->size() : 0);
    if (invalid_json) break;
  }
  ASSERT_EQ(invalid.size(), 2u);
  EXPECT_FALSE(invalid[0]);
  EXPECT_EQ(error_counts[0], 0u);
  EXPECT_TRUE(invalid[1]);
  EXPECT_EQ(error_counts[1], 1u);
}

}  // namespace
}  // namespace titand::ingest
