#include "ingest/ndjson_reader.h"

#include <sodium.h>

#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace titand::ingest {
namespace {

// A valid task line whose name and URL carry `id`, without the newline.
std::string taskLine(uint64_t id) {
  return fmt::format(
      R"({{"name":"task {}","execution_type":"single","action_type":"api_call",)"
      R"("input_source":"static_urls","urls":["https://api.carrier.example/v1/quotes?id={}"]}})",
      id, id);
}

// A valid line that names a different task, to tell tasks apart by line.
std::string taskName(uint64_t id) { return fmt::format("task {}", id); }

struct Collected {
  std::vector<std::pair<uint64_t, model::TaskSpec>> tasks;
  std::vector<LineError> errors;
  std::vector<uint64_t> order;  // Line of every callback, in call order.
  ReadSummary summary;
  Status status;

  std::vector<uint64_t> taskLines() const {
    std::vector<uint64_t> lines;
    for (const auto& task : tasks) lines.push_back(task.first);
    return lines;
  }
  std::vector<uint64_t> errorLines() const {
    std::vector<uint64_t> lines;
    for (const auto& error : errors) lines.push_back(error.line);
    return lines;
  }
};

class NdjsonReaderTest : public ::testing::Test {
 protected:
  std::string writeFile(const std::string& content) {
    std::string path = (dir_.path() / fmt::format("tasks{}.ndjson", files_++)).string();
    std::ofstream out(path, std::ios::binary);
    out << content;
    out.close();
    EXPECT_TRUE(out.good()) << path;
    return path;
  }

  Collected read(const std::string& content) { return readPath(writeFile(content)); }

  Collected readPath(const std::string& path) {
    Collected collected;
    auto summary = readNdjsonTasks(
        path, options_,
        [&](uint64_t line, model::TaskSpec&& task) {
          collected.order.push_back(line);
          collected.tasks.emplace_back(line, std::move(task));
          return true;
        },
        [&](LineError&& error) {
          collected.order.push_back(error.line);
          collected.errors.push_back(std::move(error));
          return true;
        });
    if (summary.isOk()) {
      collected.summary = summary.value();
    } else {
      collected.status = summary.status();
    }
    return collected;
  }

  // Checks that each task came from the line that carries its name.
  static void expectNamesMatchLines(const Collected& collected,
                                    const std::map<uint64_t, uint64_t>& id_of_line) {
    for (const auto& [line, task] : collected.tasks) {
      auto found = id_of_line.find(line);
      ASSERT_NE(found, id_of_line.end()) << "task reported for line " << line;
      EXPECT_EQ(task.name, taskName(found->second)) << "line " << line;
    }
  }

  // Checks the outcome of reading mixedContent(): tasks exactly on the valid lines, each with
  // its own name, errors exactly on the broken lines, and every line counted.
  static void expectMixedResult(const Collected& collected,
                                const std::map<uint64_t, uint64_t>& id_of_line,
                                const std::vector<uint64_t>& error_lines, uint64_t lines_total) {
    std::vector<uint64_t> expected_tasks;
    for (const auto& entry : id_of_line) expected_tasks.push_back(entry.first);
    EXPECT_EQ(collected.taskLines(), expected_tasks);
    expectNamesMatchLines(collected, id_of_line);
    EXPECT_EQ(collected.errorLines(), error_lines);
    EXPECT_EQ(collected.summary.lines_total, lines_total);
    EXPECT_EQ(collected.summary.tasks, expected_tasks.size());
    EXPECT_EQ(collected.summary.errors, error_lines.size());
  }

  titand::testing::TempDir dir_;
  int files_ = 0;
  ReaderOptions options_;
};

TEST_F(NdjsonReaderTest, ReadsValidLines) {
  std::string content = taskLine(1) + "\n" + taskLine(2) + "\n" + taskLine(3) + "\n";
  Collected result = read(content);
  ASSERT_TRUE(result.status.isOk()) << result.status.toString();
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(result.errors.empty());
  expectNamesMatchLines(result, {{1, 1}, {2, 2}, {3, 3}});
  EXPECT_EQ(result.tasks[0].second.urls.at(0), "https://api.carrier.example/v1/quotes?id=1");
  EXPECT_EQ(result.summary.lines_total, 3u);
  EXPECT_EQ(result.summary.tasks, 3u);
  EXPECT_EQ(result.summary.errors, 0u);
  EXPECT_EQ(result.summary.bytes, content.size());
  EXPECT_FALSE(result.summary.stopped_early);
}

TEST_F(NdjsonReaderTest, SkipsByteOrderMark) {
  std::string content = "\xEF\xBB\xBF" + taskLine(1) + "\n" + taskLine(2) + "\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(result.errors.empty());
  EXPECT_EQ(result.summary.bytes, content.size());
}

TEST_F(NdjsonReaderTest, ByteOrderMarkOnlyInFirstLine) {
  std::string content = taskLine(1) + "\n\xEF\xBB\xBF" + taskLine(2) + "\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1}));
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 2u);
}

TEST_F(NdjsonReaderTest, AcceptsCrlfLineEnds) {
  std::string content = taskLine(1) + "\r\n" + taskLine(2) + "\r\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(result.errors.empty());
  EXPECT_EQ(result.summary.lines_total, 2u);
}

TEST_F(NdjsonReaderTest, AcceptsCrlfOnSlowPath) {
  // The broken first line sends the whole chunk through the line-by-line path.
  std::string content = "{\"name\": broken\r\n" + taskLine(2) + "\r\n" + taskLine(3) + "\r\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(result.errorLines(), (std::vector<uint64_t>{1}));
}

TEST_F(NdjsonReaderTest, SkipsBlankLinesButCountsThem) {
  std::string content = "\n" + taskLine(2) + "\n   \t\n\r\n" + taskLine(5) + "\n\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{2, 5}));
  expectNamesMatchLines(result, {{2, 2}, {5, 5}});
  EXPECT_TRUE(result.errors.empty());
  EXPECT_EQ(result.summary.lines_total, 6u);
}

TEST_F(NdjsonReaderTest, ReadsLastLineWithoutNewline) {
  Collected result = read(taskLine(1) + "\n" + taskLine(2));
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(result.summary.lines_total, 2u);
}

TEST_F(NdjsonReaderTest, ReportsOverlongLineInsideChunk) {
  options_.max_line_bytes = 300;
  std::string padded_name = "{\"name\":\"" + std::string(400, 'x') + "\"}";
  std::string content = taskLine(1) + "\n" + padded_name + "\n" + taskLine(3) + "\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 3}));
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 2u);
  EXPECT_EQ(result.errors[0].field, "");
  EXPECT_NE(result.errors[0].reason.find(fmt::format("line is {} bytes", padded_name.size())),
            std::string::npos)
      << result.errors[0].reason;
  EXPECT_NE(result.errors[0].reason.find("limit of 300 bytes (spool.max_line_bytes)"),
            std::string::npos);
  EXPECT_EQ(result.order, (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(NdjsonReaderTest, SkipsOverlongLineLargerThanBuffer) {
  options_.max_line_bytes = 256;
  options_.chunk_bytes = 256;
  std::string huge(5000, 'h');
  std::string content =
      taskLine(1) + "\n" + huge + "\n" + taskLine(3) + "\n" + taskLine(4) + "\n" + huge + "z";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 3, 4}));
  expectNamesMatchLines(result, {{1, 1}, {3, 3}, {4, 4}});
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_EQ(result.errors[0].line, 2u);
  EXPECT_NE(result.errors[0].reason.find("line is 5000 bytes"), std::string::npos)
      << result.errors[0].reason;
  EXPECT_EQ(result.errors[1].line, 5u);
  EXPECT_NE(result.errors[1].reason.find("line is 5001 bytes"), std::string::npos)
      << result.errors[1].reason;
  EXPECT_EQ(result.summary.lines_total, 5u);
  EXPECT_EQ(result.summary.errors, 2u);
}

TEST_F(NdjsonReaderTest, LineAtLimitIsAccepted) {
  std::string line = taskLine(1);
  options_.max_line_bytes = line.size();
  options_.chunk_bytes = 64;
  Collected result = read(line + "\n" + line + "\n");
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(result.errors.empty());
}

TEST_F(NdjsonReaderTest, BrokenJsonMidChunkKeepsLineNumbers) {
  std::string content;
  for (uint64_t line = 1; line <= 9; ++line) {
    if (line == 4) {
      content += "{\"name\": broken\n";
    } else if (line == 8) {
      content += R"({"name":"bad limits","execution_type":"single","action_type":"api_call",)"
                 R"("input_source":"static_urls","urls":["https://a.example/"],)"
                 R"("limits":{"timeout_seconds":0}})"
                 "\n";
    } else {
      content += taskLine(line) + "\n";
    }
  }
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 2, 3, 5, 6, 7, 9}));
  expectNamesMatchLines(result, {{1, 1}, {2, 2}, {3, 3}, {5, 5}, {6, 6}, {7, 7}, {9, 9}});
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_EQ(result.errors[0].line, 4u);
  EXPECT_EQ(result.errors[0].field, "");
  EXPECT_NE(result.errors[0].reason.find("invalid JSON"), std::string::npos);
  EXPECT_EQ(result.errors[1].line, 8u);
  EXPECT_EQ(result.errors[1].field, "limits.timeout_seconds");
  EXPECT_EQ(result.order, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(result.summary.errors, 2u);
  EXPECT_EQ(result.summary.tasks, 7u);
}

TEST_F(NdjsonReaderTest, RejectsTwoDocumentsOnOneLine) {
  std::string content = taskLine(1) + "\n" + taskLine(2) + taskLine(20) + "\n" + taskLine(3) +
                        "\n" + taskLine(4) + " " + taskLine(40) + "\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 3}));
  expectNamesMatchLines(result, {{1, 1}, {3, 3}});
  EXPECT_EQ(result.errorLines(), (std::vector<uint64_t>{2, 4}));
  for (const LineError& error : result.errors) {
    EXPECT_NE(error.reason.find("unexpected text after the JSON object"), std::string::npos)
        << error.reason;
  }
}

TEST_F(NdjsonReaderTest, RejectsTrailingGarbage) {
  std::string content = taskLine(1) + " 42\n" + taskLine(2) + " x\n" + taskLine(3) + "\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{3}));
  EXPECT_EQ(result.errorLines(), (std::vector<uint64_t>{1, 2}));
}

TEST_F(NdjsonReaderTest, RejectsDeeplyNestedLine) {
  std::string deep = std::string(3000, '[') + std::string(3000, ']');
  std::string line = taskLine(2);
  line.insert(1, "\"payload\":{\"a\":" + deep + "},");
  Collected result = read(taskLine(1) + "\n" + line + "\n" + taskLine(3) + "\n");
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(result.errorLines(), (std::vector<uint64_t>{2}));
}

TEST_F(NdjsonReaderTest, RejectsDocumentAcrossLines) {
  std::string content = taskLine(1) + "\n" +
                        R"({"name":"split","execution_type":"single","action_type":"api_call",)" +
                        "\n" + R"("input_source":"static_urls","urls":["https://a.example/"]})" +
                        "\n" + taskLine(4) + "\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(result.errorLines(), (std::vector<uint64_t>{2, 3}));
}

TEST_F(NdjsonReaderTest, RejectsNonObjectLines) {
  std::string content = taskLine(1) + "\n[1,2]\n42\n\"text\"\nnull\n" + taskLine(6) + "\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 6}));
  EXPECT_EQ(result.errorLines(), (std::vector<uint64_t>{2, 3, 4, 5}));
  for (const LineError& error : result.errors) {
    EXPECT_NE(error.reason.find("must be a JSON object"), std::string::npos) << error.reason;
  }
}

TEST_F(NdjsonReaderTest, ReportsInvalidUtf8OnItsLine) {
  std::string bad = R"({"name":"caf)" + std::string("\xC3\x28") + R"("})";
  std::string content = taskLine(1) + "\n" + bad + "\n" + taskLine(3) + "\n";
  Collected result = read(content);
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 3}));
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 2u);
  EXPECT_NE(result.errors[0].reason.find("UTF-8"), std::string::npos) << result.errors[0].reason;
}

TEST_F(NdjsonReaderTest, ReportsEveryFieldErrorOnFastPath) {
  std::string bad = R"({"name":"x","execution_type":"scheduled","action_type":"search",)"
                    R"("input_source":"static_urls","urls":["ftp://a.example/"]})";
  Collected result = read(taskLine(1) + "\n" + bad + "\n" + taskLine(3) + "\n");
  EXPECT_EQ(result.taskLines(), (std::vector<uint64_t>{1, 3}));
  ASSERT_EQ(result.errors.size(), 3u);
  EXPECT_EQ(result.errors[0].field, "execution_type");
  EXPECT_EQ(result.errors[1].field, "action_type");
  EXPECT_EQ(result.errors[2].field, "urls[0]");
  for (const LineError& error : result.errors) EXPECT_EQ(error.line, 2u);
  EXPECT_EQ(result.summary.errors, 1u);  // One invalid line.
}

// Builds `count` lines where every 97th line is broken JSON, every 89th has a bad field and
// every 50th is blank; the rest are valid tasks named after their line.
std::string mixedContent(uint64_t count, std::map<uint64_t, uint64_t>* id_of_line,
                         std::vector<uint64_t>* error_lines) {
  std::string content;
  for (uint64_t line = 1; line <= count; ++line) {
    if (line % 97 == 0) {
      content += "{\"name\": \"unterminated\n";
      error_lines->push_back(line);
    } else if (line % 89 == 0) {
      content += R"({"name":"x","execution_type":"single","action_type":"api_call",)"
                 R"("input_source":"static_urls","urls":[]})"
                 "\n";
      error_lines->push_back(line);
    } else if (line % 50 == 0) {
      content += "  \n";
    } else {
      content += taskLine(line) + "\n";
      (*id_of_line)[line] = line;
    }
  }
  return content;
}

TEST_F(NdjsonReaderTest, ManyLinesAcrossSmallChunks) {
  options_.chunk_bytes = 4096;
  options_.max_line_bytes = 1024;
  std::map<uint64_t, uint64_t> id_of_line;
  std::vector<uint64_t> error_lines;
  std::string content = mixedContent(3000, &id_of_line, &error_lines);
  Collected result = read(content);
  expectMixedResult(result, id_of_line, error_lines, 3000);
  for (size_t i = 1; i < result.order.size(); ++i) {
    ASSERT_LT(result.order[i - 1], result.order[i]) << "callbacks out of line order";
  }
}

TEST_F(NdjsonReaderTest, ValidLinesAcrossSmallChunks) {
  options_.chunk_bytes = 4096;
  std::string content;
  std::map<uint64_t, uint64_t> id_of_line;
  for (uint64_t line = 1; line <= 2000; ++line) {
    content += taskLine(line) + "\n";
    id_of_line[line] = line;
  }
  Collected result = read(content);
  ASSERT_EQ(result.tasks.size(), 2000u);
  for (uint64_t line = 1; line <= 2000; ++line) {
    ASSERT_EQ(result.tasks[line - 1].first, line);
  }
  expectNamesMatchLines(result, id_of_line);
  EXPECT_TRUE(result.errors.empty());
}

TEST_F(NdjsonReaderTest, ManyLinesAcrossStreamWindows) {
  // A 2 MiB chunk is parsed in stream windows of about 1 MB, so documents straddle windows.
  options_.chunk_bytes = 2 << 20;
  options_.max_line_bytes = 1024;
  std::map<uint64_t, uint64_t> id_of_line;
  std::vector<uint64_t> error_lines;
  std::string content = mixedContent(40000, &id_of_line, &error_lines);
  ASSERT_GT(content.size(), 4u << 20);
  Collected result = read(content);
  expectMixedResult(result, id_of_line, error_lines, 40000);
}

TEST_F(NdjsonReaderTest, EmptyFileHasNoTasks) {
  for (const std::string& content :
       {std::string(), std::string("\n\n  \n"), std::string("\xEF\xBB\xBF")}) {
    SCOPED_TRACE(content.size());
    Collected result = read(content);
    ASSERT_TRUE(result.status.isOk());
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].line, 0u);
    EXPECT_EQ(result.errors[0].field, "");
    EXPECT_NE(result.errors[0].reason.find("no tasks"), std::string::npos);
    EXPECT_EQ(result.summary.errors, 1u);
    EXPECT_EQ(result.summary.tasks, 0u);
  }
}

TEST_F(NdjsonReaderTest, InvalidOnlyFileGetsNoExtraError) {
  Collected result = read("{\n");
  EXPECT_EQ(result.errorLines(), (std::vector<uint64_t>{1}));
}

TEST_F(NdjsonReaderTest, HashesKnownContent) {
  // SHA-256 of "abc" from FIPS 180-2, appendix B.1.
  Collected result = read("abc");
  EXPECT_EQ(result.summary.sha256_hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(result.summary.bytes, 3u);
}

TEST_F(NdjsonReaderTest, HashesRawBytesAcrossChunks) {
  options_.chunk_bytes = 100;
  options_.max_line_bytes = 300;
  std::string content = "\xEF\xBB\xBF";
  for (uint64_t line = 1; line <= 50; ++line) content += taskLine(line) + "\r\n";
  content += std::string(1000, 'q') + "\n";  // An over-long line is hashed too.
  ASSERT_EQ(sodium_init() < 0, false);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(content.data()),
                     content.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  Collected result = read(content);
  EXPECT_EQ(result.summary.sha256_hex, hex);
  EXPECT_EQ(result.summary.bytes, content.size());
  EXPECT_EQ(result.tasks.size(), 50u);
  EXPECT_EQ(result.errorLines(), (std::vector<uint64_t>{51}));
}

TEST_F(NdjsonReaderTest, StopsWhenTaskCallbackSaysSo) {
  std::string content;
  for (uint64_t line = 1; line <= 10; ++line) content += taskLine(line) + "\n";
  std::vector<uint64_t> seen;
  auto summary = readNdjsonTasks(
      writeFile(content), options_,
      [&](uint64_t line, model::TaskSpec&&) {
        seen.push_back(line);
        return line < 3;
      },
      [&](LineError&&) { return true; });
  ASSERT_TRUE(summary.isOk());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(summary->stopped_early);
  EXPECT_EQ(summary->sha256_hex, "");
  EXPECT_EQ(summary->lines_total, 3u);
}

TEST_F(NdjsonReaderTest, StopsWhenErrorCallbackSaysSo) {
  std::string content = taskLine(1) + "\n{\"name\": broken\n" + taskLine(3) + "\n";
  std::vector<uint64_t> task_lines;
  std::vector<uint64_t> error_lines;
  auto summary = readNdjsonTasks(
      writeFile(content), options_,
      [&](uint64_t line, model::TaskSpec&&) {
        task_lines.push_back(line);
        return true;
      },
      [&](LineError&& error) {
        error_lines.push_back(error.line);
        return false;
      });
  ASSERT_TRUE(summary.isOk());
  EXPECT_EQ(task_lines, (std::vector<uint64_t>{1}));
  EXPECT_EQ(error_lines, (std::vector<uint64_t>{2}));
  EXPECT_TRUE(summary->stopped_early);
}

TEST_F(NdjsonReaderTest, MissingFileIsIoError) {
  std::string path = (dir_.path() / "absent.ndjson").string();
  Collected result = readPath(path);
  EXPECT_EQ(result.status.code(), ErrorCode::kIo);
  EXPECT_NE(result.status.message().find(path), std::string::npos) << result.status.message();
  EXPECT_NE(result.status.message().find("No such file"), std::string::npos);
}

TEST_F(NdjsonReaderTest, DirectoryIsIoError) {
  Collected result = readPath(dir_.str());
  EXPECT_EQ(result.status.code(), ErrorCode::kIo);
  EXPECT_NE(result.status.message().find(dir_.str()), std::string::npos);
}

}  // namespace
}  // namespace titand::ingest
