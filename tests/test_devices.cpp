// Rank-to-device mapping (core/devices.h): the visible-device count from CUDA_VISIBLE_DEVICES and
// the round-robin choice by node-local rank, in the layouts SLURM produces.
#include <gtest/gtest.h>

#include "core/devices.h"

namespace {

using parbench::device_for;
using parbench::visible_devices;

TEST(Devices, VisibleDevicesFromCudaVisibleDevices) {
  EXPECT_EQ(visible_devices(nullptr, 4), 4);  // unset: what the driver reports
  EXPECT_EQ(visible_devices(nullptr, 0), 0);
  EXPECT_EQ(visible_devices("", 4), 0);  // set but empty hides every device
  EXPECT_EQ(visible_devices("3", 8), 1);
  EXPECT_EQ(visible_devices("0,1", 8), 2);
  EXPECT_EQ(visible_devices("GPU-8e0a,GPU-12f3,GPU-77aa", 0), 3);  // UUIDs count as entries
  EXPECT_EQ(visible_devices("0,,2,", 8), 2);
}

TEST(Devices, NoDeviceMeansCpu) {
  EXPECT_EQ(device_for(0, 0), -1);
  EXPECT_EQ(device_for(3, 0), -1);
}

TEST(Devices, GpusPerNodeSharesTheNodesDevicesByLocalRank) {
  // --gpus-per-node=4 with 4 tasks per node: every task sees 0,1,2,3 and takes its local rank's.
  for (int local = 0; local < 4; ++local) EXPECT_EQ(device_for(local, visible_devices("0,1,2,3", 0)), local);
  // 8 tasks on 4 devices: two ranks per device, round-robin.
  EXPECT_EQ(device_for(5, 4), 1);
  EXPECT_EQ(device_for(7, 4), 3);
}

TEST(Devices, SlurmGivesEachTaskASingleVisibleDevice) {
  // --gpus-per-task=1: task with local rank 3 is given CUDA_VISIBLE_DEVICES=3, i.e. one device
  // that CUDA numbers 0.
  EXPECT_EQ(device_for(3, visible_devices("3", 8)), 0);
  EXPECT_EQ(device_for(1, visible_devices("1", 8)), 0);
}

}  // namespace
