#!/usr/bin/env bash
# Installs every Debian package parbench needs to build, test and run on Debian 12.
# Idempotent: packages already present are reported and skipped; run as root (or via sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  clang-format-14 clang-tidy-14 clang-tidy-22
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools zlib1g-dev
  libbenchmark-dev libgtest-dev
  nlohmann-json3-dev libfmt-dev libcli11-dev
  libtbb-dev libdnnl-dev ocl-icd-opencl-dev
  python3 python3-matplotlib
  slurmctld slurmd slurm-client munge libpmix2 libpmix-dev
)

missing=()
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    echo "install-deps: present  $p"
  else
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${#missing[@]} package(s)"
