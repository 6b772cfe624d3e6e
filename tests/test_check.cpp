// The failure path: a failed PB_CHECK names host, rank, file:line, expression and detail, then
// aborts (the MPI case, every rank aborting, is the mpi.check_aborts_every_rank test).
#include <gtest/gtest.h>

#include "core/check.h"
#include "core/context.h"

namespace {

TEST(Check, FailureNamesHostRankLocationAndExpression) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int x = 5;
  const std::string host = parbench::host_name();
  EXPECT_DEATH(PB_CHECK(x == 2, "x = {}", x),
               "check failed on " + host + " rank 0 at .*test_check.cpp:[0-9]+: x == 2 \\(x = 5\\)");
  EXPECT_DEATH(PB_CHECK(x < 0), "test_check.cpp:[0-9]+: x < 0");
}

TEST(Check, PassingCheckDoesNotEvaluateDetail) {
  int evaluated = 0;
  auto detail = [&] {
    ++evaluated;
    return 1;
  };
  PB_CHECK(true, "{}", detail());
  EXPECT_EQ(evaluated, 0);
}

TEST(Context, HasBuildHostCpuAndLibraries) {
  const nlohmann::json context = parbench::run_context();
  EXPECT_EQ(context["git_commit"].get<std::string>().size() == 40 || context["git_commit"] == "unknown", true);
  EXPECT_FALSE(context["compiler"].get<std::string>().empty());
  EXPECT_FALSE(context["build_type"].get<std::string>().empty());
  EXPECT_GE(context["cpu"]["logical_cpus"].get<int>(), 1);
  EXPECT_GE(context["cpu"]["physical_cores"].get<int>(), 1);
  EXPECT_LE(context["cpu"]["physical_cores"].get<int>(), context["cpu"]["logical_cpus"].get<int>() * 2);
  EXPECT_FALSE(context["cpu"]["model"].get<std::string>().empty());
  EXPECT_TRUE(context["libraries"].contains("mpi"));
  EXPECT_TRUE(context["libraries"].contains("fmt"));
}

TEST(Context, RecordsSlurmJob) {
  setenv("SLURM_JOB_ID", "4242", 1);
  setenv("SLURM_NTASKS", "3", 1);
  const nlohmann::json context = parbench::run_context();
  unsetenv("SLURM_JOB_ID");
  unsetenv("SLURM_NTASKS");
  EXPECT_EQ(context["slurm"]["job_id"], "4242");
  EXPECT_EQ(context["slurm"]["ntasks"], "3");
  EXPECT_TRUE(parbench::run_context()["slurm"].is_null());
}

}  // namespace
