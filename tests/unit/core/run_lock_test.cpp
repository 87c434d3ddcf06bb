// One writer per run directory (core/run_lock.h) and bounded quotes of bad input (core/text.h).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/files.h"
#include "core/jsonl.h"
#include "core/run_lock.h"
#include "core/text.h"
#include "tests/common/test_data.h"

namespace principia {
namespace {

TEST(RunDirLock, ASecondHolderIsRefusedNamingTheFirst) {
  const auto dir = testing::temp_dir("run_lock") / "run";
  RunDirLock first(dir.string());  // creates the directory
  EXPECT_TRUE(std::filesystem::exists(dir / ".lock"));
  const std::string holder = read_file((dir / ".lock").string());
  EXPECT_EQ(holder.rfind("pid " + std::to_string(::getpid()) + " host ", 0), 0u) << holder;
  try {
    RunDirLock second(dir.string());  // another open file: flock conflicts within one process too
    FAIL() << "the second lock was granted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("another run is writing to this directory"), std::string::npos) << what;
    EXPECT_NE(what.find("pid " + std::to_string(::getpid())), std::string::npos) << what;
    EXPECT_NE(what.find("run.output_dir"), std::string::npos) << what;
  }
}

TEST(RunDirLock, ReleasedWhenTheHolderIsDestroyed) {
  const auto dir = testing::temp_dir("run_lock_release");
  { RunDirLock a(dir.string()); }
  RunDirLock b(dir.string());
  SUCCEED();
}

TEST(RunDirLock, AKilledHolderLeavesNoStaleLock) {
  const auto dir = testing::temp_dir("run_lock_kill");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RunDirLock held(dir.string());
    char c = 1;
    if (::write(ready[1], &c, 1) != 1) ::_exit(3);
    for (;;) ::pause();
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_THROW(RunDirLock(dir.string()), Error);  // held by the child
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(process_alive(child));
  RunDirLock after(dir.string());  // the kernel released the dead child's lock
  EXPECT_NE(read_file((dir / ".lock").string()).find("pid " + std::to_string(::getpid())), std::string::npos);
}

TEST(ProcessAlive, SelfAndNonsense) {
  EXPECT_TRUE(process_alive(::getpid()));
  EXPECT_FALSE(process_alive(0));
  EXPECT_FALSE(process_alive(-5));
}

TEST(QuoteExcerpt, EscapesAndBounds) {
  EXPECT_EQ(quote_excerpt("step-000004"), "'step-000004'");
  EXPECT_EQ(quote_excerpt(std::string("a\nb\x01'\\\xff", 7)), "'a\\nb\\x01\\'\\\\\\xff'");
  const std::string big(10'000'000, 'x');
  const std::string q = quote_excerpt(big, 200);
  EXPECT_EQ(q, "'" + std::string(200, 'x') + "'... (10000000 bytes)");
}

TEST(JsonErrorMessage, CutsTheLastReadTokenOfAHugeLine) {
  const std::string line = "{\"id\": \"" + std::string(10'000'000, 'a');  // unterminated string
  std::string raw;
  try {
    auto j = nlohmann::ordered_json::parse(line);
    (void)j;
  } catch (const std::exception& e) {
    raw = e.what();
  }
  ASSERT_GT(raw.size(), 10'000'000u);  // what nlohmann says on its own
  const std::string msg = json_error_message(raw);
  EXPECT_LT(msg.size(), 600u) << msg.substr(0, 600);
  EXPECT_EQ(msg.find("[json.exception"), std::string::npos) << msg.substr(0, 300);
  EXPECT_NE(msg.find("column 10000009"), std::string::npos) << msg.substr(0, 300);  // the byte offset
  EXPECT_NE(msg.find("(10000001 bytes)"), std::string::npos) << msg.substr(0, 600);  // the token's length: quote + 10M
}

TEST(JsonlReader, AHugeBadLineGivesABoundedError) {
  const auto dir = testing::temp_dir("jsonl_huge");
  const std::string path = (dir / "j.jsonl").string();
  write_file_atomic(path, "{\"id\": \"ok\"}\n{\"output\": \"" + std::string(10'000'000, 'z') + "\n");
  JsonlReader reader(path);
  auto first = reader.next();
  ASSERT_TRUE(first && first->error.empty());
  auto bad = reader.next();
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->line_no, 2);
  EXPECT_LT(bad->error.size(), 600u);
  EXPECT_NE(bad->error.find("not valid JSON"), std::string::npos) << bad->error;
  EXPECT_NE(bad->error.find("line of 10000012 bytes"), std::string::npos) << bad->error;
}

}  // namespace
}  // namespace principia
