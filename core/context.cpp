// run_context(): read /proc/cpuinfo, uname, the SLURM environment and library versions.
#include "core/context.h"

#include <sched.h>
#include <sys/utsname.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>

#if PARBENCH_HAVE_MPI
#include <mpi.h>
#endif

#include "core/build_info.h"
#include "core/check.h"

namespace parbench {

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  const auto last = s.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
}

std::string mpi_library_version() {
#if PARBENCH_HAVE_MPI
  // Callable before MPI_Init (MPI 3.0).
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, static_cast<std::size_t>(length));
  return trim(version.substr(0, version.find_first_of(",\n")));
#else
  return "not built (PARBENCH_MPI=OFF)";
#endif
}

}  // namespace

CpuInfo cpu_info() {
  CpuInfo info;
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<int, int>> cores;
  std::set<int> sockets;
  int physical_id = 0;
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon));
    const std::string value = trim(line.substr(colon + 1));
    if (key == "model name" && info.model.empty()) info.model = value;
    if (key == "physical id") {
      physical_id = std::atoi(value.c_str());
      sockets.insert(physical_id);
    }
    if (key == "core id") cores.insert({physical_id, std::atoi(value.c_str())});
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  info.logical_cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  // Some virtual machines hide the topology; count logical CPUs as cores then.
  info.physical_cores = cores.empty() ? info.logical_cpus : static_cast<int>(cores.size());
  info.sockets = sockets.empty() ? 1 : static_cast<int>(sockets.size());
  return info;
}

nlohmann::json run_context() {
  nlohmann::json context;
  context["parbench_version"] = build_info::version;
  context["git_commit"] = build_info::git_commit;
  context["git_dirty"] = build_info::git_dirty;
  context["build_type"] = build_info::build_type;
  context["compiler"] = PARBENCH_COMPILER;
  context["host"] = host_name();

  utsname os{};
  if (uname(&os) == 0) context["os"] = fmt::format("{} {} {}", os.sysname, os.release, os.machine);

  const CpuInfo cpu = cpu_info();
  context["cpu"] = {{"model", cpu.model},
                    {"logical_cpus", cpu.logical_cpus},
                    {"physical_cores", cpu.physical_cores},
                    {"sockets", cpu.sockets}};

  nlohmann::json slurm = nullptr;
  if (const char* job = std::getenv("SLURM_JOB_ID")) {
    slurm = nlohmann::json::object();
    slurm["job_id"] = job;
    for (const auto& [key, var] :
         {std::pair{"array_task_id", "SLURM_ARRAY_TASK_ID"}, std::pair{"nodes", "SLURM_JOB_NUM_NODES"},
          std::pair{"node_list", "SLURM_JOB_NODELIST"}, std::pair{"ntasks", "SLURM_NTASKS"},
          std::pair{"ntasks_per_node", "SLURM_NTASKS_PER_NODE"}, std::pair{"cpus_per_task", "SLURM_CPUS_PER_TASK"},
          std::pair{"gpus", "SLURM_GPUS"}, std::pair{"gpus_per_node", "SLURM_GPUS_PER_NODE"},
          std::pair{"gpus_per_task", "SLURM_GPUS_PER_TASK"}, std::pair{"step_id", "SLURM_STEP_ID"},
          std::pair{"procid", "SLURM_PROCID"}, std::pair{"localid", "SLURM_LOCALID"},
          std::pair{"partition", "SLURM_JOB_PARTITION"}, std::pair{"restart_count", "SLURM_RESTART_COUNT"}}) {
      if (const char* value = std::getenv(var)) slurm[key] = value;
    }
  }
  context["slurm"] = slurm;
  // Which GPUs the launcher gave this process (SLURM sets it per task for --gpus-per-task).
  if (const char* devices = std::getenv("CUDA_VISIBLE_DEVICES")) context["cuda_visible_devices"] = devices;

  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  context["date_utc"] = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", now);

  context["libraries"] = {
      {"fmt", fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100)},
      {"nlohmann_json",
       fmt::format("{}.{}.{}", NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH)},
      {"mpi", mpi_library_version()}};
  return context;
}

}  // namespace parbench
