// Task lines and files for the ingest benchmarks, shaped like conf/examples/demo-batch.ndjson.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace titand::ingest::bench {

// The example line of the README: one URL and a small payload (324 bytes).
inline std::string smallTaskLine() {
  return R"({"name":"Shipping quotes","objective":"Pull carrier quotes","execution_type":"single",)"
         R"("urls":["https://api.carrier.example/v1/quotes"],"action_type":"api_call",)"
         R"("input_source":"static_urls","template_slug":"carrier-quote-json",)"
         R"("payload":{"origin_zip":"94107","weight_kg":12.5},)"
         R"("limits":{"timeout_seconds":20,"max_retries":2}})";
}

// A line with four URLs on three hosts and a payload of at least `payload_bytes` bytes: a
// small quote request whose "notes" string is padded to reach the size.
inline std::string taskLine(uint64_t number, size_t payload_bytes) {
  std::string payload =
      fmt::format(R"({{"origin_zip":"94107","destination_zip":"10001","weight_kg":{},"notes":")",
                  number % 50 + 1);
  while (payload.size() + 2 < payload_bytes) payload += "x";
  payload += "\"}";
  return fmt::format(
      R"({{"name":"quote pull {0}","objective":"POST to the quote API and keep the JSON )"
      R"(response","execution_type":"single","urls":["https://a.example/v1/quotes/{0}/0",)"
      R"("https://b.example/v1/quotes/{0}/1","https://c.example/v1/quotes/{0}/2",)"
      R"("https://a.example/v1/quotes/{0}/3"],"action_type":"api_call","input_source":)"
      R"("static_urls","template_slug":"carrier-quote-json","limits":{{"timeout_seconds":10,)"
      R"("max_retries":2}},"payload":{1}}})",
      number, payload);
}

// Writes `lines` task lines of about 500 bytes (the unpadded payload) to `path` one at a time,
// so the writer's own memory stays small. Returns false when the file cannot be written.
inline bool writeTaskFile(const std::string& path, uint64_t lines) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return false;
  bool ok = true;
  for (uint64_t i = 0; i < lines && ok; ++i) {
    std::string line = taskLine(i, 64);
    line += '\n';
    ok = std::fwrite(line.data(), 1, line.size(), file) == line.size();
  }
  return std::fclose(file) == 0 && ok;
}

}  // namespace titand::ingest::bench
