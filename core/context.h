// The run context recorded next to every measurement (metrics JSON, benchmark JSON, reports):
// what was built, where it ran, with which libraries. Numbers without it cannot be compared.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace parbench {

struct CpuInfo {
  std::string model;       // /proc/cpuinfo "model name"
  int logical_cpus = 0;    // online CPUs (sched affinity of this process)
  int physical_cores = 0;  // distinct (physical id, core id) pairs
  int sockets = 0;
};
CpuInfo cpu_info();

// git commit and dirty flag, version, build type, compiler, host, OS, CPU, SLURM job, time, and
// the versions of the libraries this layer knows (fmt, nlohmann_json, MPI). Higher layers add
// theirs under "libraries" (HDF5 from data/, BLAS from kernels/).
nlohmann::json run_context();

}  // namespace parbench
