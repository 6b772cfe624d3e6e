// Which GPU a rank uses: ranks on a host take the devices visible to them in turn, by node-local
// rank (Comm::local_rank). SLURM's --gpus-per-task gives each task its own CUDA_VISIBLE_DEVICES of
// one entry, so there every task takes its device 0; --gpus-per-node shows all of a node's devices
// to every task, so local rank r takes device r mod count. Header-only: pure and used by any layer.
#pragma once

#include <cstdlib>
#include <string_view>

namespace parbench {

// The devices a process can use: the entries of CUDA_VISIBLE_DEVICES when it is set (comma
// separated; set but empty hides every device), else `device_count` (what the driver reports).
inline int visible_devices(const char* cuda_visible_devices, int device_count) {
  if (cuda_visible_devices == nullptr) return device_count;
  int count = 0;
  std::string_view list(cuda_visible_devices);
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (!list.substr(0, comma).empty()) ++count;
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return count;
}
inline int visible_devices(int device_count) {
  return visible_devices(std::getenv("CUDA_VISIBLE_DEVICES"), device_count);
}

// The device index (among the visible ones) of node-local rank `local_rank`; -1 when there is no
// device, meaning the CPU. More ranks than devices share them round-robin.
inline int device_for(int local_rank, int visible) { return visible > 0 ? local_rank % visible : -1; }

}  // namespace parbench
