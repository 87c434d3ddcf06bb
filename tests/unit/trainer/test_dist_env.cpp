// The launcher environment -> DistEnv, a world-size-1 Dist doing nothing, and one with a Gloo
// group of one rank.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>

#include "core/error.h"
#include "trainer/dist.h"
#include "tests/unit/trainer/world_of_one.h"

namespace principia::trainer {
namespace {

// Sets the given variables and clears every other launcher variable for one test.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const char* k : kAll) ::unsetenv(k);
    for (auto& [k, v] : vars) ::setenv(k, v, 1);
  }
  ~ScopedEnv() {
    for (const char* k : kAll) ::unsetenv(k);
  }

 private:
  static constexpr const char* kAll[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                         "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE",
                                         "TORCHELASTIC_RESTART_COUNT", "SLURM_PROCID", "SLURM_NTASKS",
                                         "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE", "SLURM_TASKS_PER_NODE",
                                         "SLURM_JOB_NODELIST"};
};

TEST(DistEnv, NoLauncherIsOneProcess) {
  ScopedEnv env({});
  DistEnv e = dist_env_from_environment();
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(e.source, "single");
}

TEST(DistEnv, TorchrunVariables) {
  ScopedEnv env({{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "4"},
                 {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29400"}});
  DistEnv e = dist_env_from_environment();
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 4);
  EXPECT_EQ(e.master_addr, "node7");
  EXPECT_EQ(e.master_port, 29400);
  EXPECT_FALSE(e.agent_store);
}

TEST(DistEnv, TorchrunAgentStoreUsesTheAttemptPrefix) {
  ScopedEnv env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "1234"},
                 {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RESTART_COUNT", "3"}});
  DistEnv e = dist_env_from_environment();
  EXPECT_TRUE(e.agent_store);
  EXPECT_EQ(e.store_prefix, "/worker/attempt_3/");
}

TEST(DistEnv, SlurmFallbackTakesTheFirstNode) {
  ScopedEnv env({{"SLURM_PROCID", "9"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"},
                 {"SLURM_TASKS_PER_NODE", "8(x2)"}, {"SLURM_JOB_NODELIST", "gpu[03-04]"}});
  DistEnv e = dist_env_from_environment();
  EXPECT_EQ(e.source, "slurm");
  EXPECT_EQ(e.rank, 9);
  EXPECT_EQ(e.world_size, 16);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 8);
  EXPECT_EQ(e.master_addr, "gpu03");
}

TEST(DistEnv, BadValuesNameTheVariable) {
  {
    ScopedEnv env({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}});
    try {
      dist_env_from_environment();
      FAIL() << "RANK >= WORLD_SIZE accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("RANK=2"), std::string::npos) << e.what();
    }
  }
  {
    ScopedEnv env({{"RANK", "x"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}});
    EXPECT_THROW(dist_env_from_environment(), Error);
  }
  {
    ScopedEnv env({{"RANK", "0"}, {"WORLD_SIZE", "2"}});
    try {
      dist_env_from_environment();
      FAIL() << "missing MASTER_ADDR accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("MASTER_ADDR"), std::string::npos) << e.what();
    }
  }
}

TEST(DistEnv, FirstSlurmHost) {
  EXPECT_EQ(first_slurm_host("gpu[03-05,07],cpu1"), "gpu03");
  EXPECT_EQ(first_slurm_host("a,b"), "a");
  EXPECT_EQ(first_slurm_host("node12"), "node12");
  EXPECT_EQ(first_slurm_host("n[7,9]"), "n7");
}

TEST(Dist, WorldSizeOneIsANoOp) {
  config::DistConfig cfg;
  auto dist = Dist::create(cfg, DistEnv{});
  EXPECT_EQ(dist->world_size(), 1);
  EXPECT_TRUE(dist->is_main());
  auto t = torch::tensor({1.0, 2.0});
  dist->all_reduce(t);
  EXPECT_TRUE(torch::equal(t, torch::tensor({1.0, 2.0})));
  EXPECT_DOUBLE_EQ(dist->all_reduce(3.5, ReduceOp::kMax), 3.5);
  EXPECT_TRUE(torch::equal(dist->all_gather(t), t));
  dist->barrier();
  EXPECT_FALSE(dist->grouped());
  EXPECT_EQ(dist->backend_name(), "none");
}

// The collectives' code path through a real Gloo group, which CI otherwise reaches only in the
// multi-process `dist` tests.
TEST(Dist, GlooGroupOfOneRunsEveryCollective) {
  ScopedEnv env({});
  std::unique_ptr<Dist> d;
  try {
    d = testing::world_of_one(config::Backend::kGloo);
  } catch (const Error& e) {
    if (std::string(e.what()).find("has no Gloo") != std::string::npos) GTEST_SKIP() << e.what();
    throw;
  }
  EXPECT_EQ(d->backend_name(), "gloo");
  testing::check_collectives_at_world_size_1(*d, torch::kCPU);
}

}  // namespace
}  // namespace principia::trainer
