// Builders for NDJSON task lines used by the integration tests.
#pragma once

#include <string>
#include <vector>

#include <fmt/format.h>

namespace titand::testing {

inline std::string taskLine(const std::string& name, const std::vector<std::string>& urls,
                            const std::string& payload_json = "",
                            const std::string& limits_json = "") {
  std::string line =
      fmt::format(R"({{"name":"{}","objective":"integration test","execution_type":"single",)"
                  R"("action_type":"api_call","input_source":"static_urls","urls":[)",
                  name);
  for (size_t i = 0; i < urls.size(); ++i) {
    line += fmt::format("{}\"{}\"", i == 0 ? "" : ",", urls[i]);
  }
  line += "]";
  if (!payload_json.empty()) line += ",\"payload\":" + payload_json;
  if (!limits_json.empty()) line += ",\"limits\":" + limits_json;
  line += "}\n";
  return line;
}

}  // namespace titand::testing
