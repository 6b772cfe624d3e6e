#!/usr/bin/env bash
# Writers on a full file system: a checkpoint, `data synth` and `data import` whose output does not
# fit on a small tmpfs must say why and exit 1, not die with SIGSEGV in HDF5's shutdown at exit
# (the file whose write failed was still open in HDF5), and leave no temporary file behind.
#   full_disk.sh PARBENCH
# Mounting needs root: without it the test is skipped (exit 77).
set -euo pipefail
# shellcheck source=tests/npy_test_lib.sh
source "$(dirname "$0")/npy_test_lib.sh"
parbench=$1
work=$(mktemp -d)
disk=$work/disk
mkdir "$disk"
cleanup() {
  umount "$disk" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! mount -t tmpfs -o size=24m tmpfs "$disk" 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs here (needs root)"
  exit 77
fi

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Fills the tmpfs up to its last `room` KiB.
fill_leaving() {
  local room=$1
  rm -f "$disk"/filler "$disk"/*
  local free_kib
  free_kib=$(df -k --output=avail "$disk" | tail -1 | tr -d ' ')
  if [ "$free_kib" -gt "$room" ]; then
    head -c $(((free_kib - room) * 1024)) /dev/zero >"$disk/filler"
  fi
}

# Runs the command, which writes `destination` on the nearly full tmpfs. It may fit (exit 0, the
# destination complete) or not (exit 1 with the reason, no destination); either way no temporary
# is left, and never may it crash (139: SIGSEGV in HDF5's shutdown at exit). Counts the failures.
failures=0
reasons="No space left on device\|can't write data\|cannot write the file out\|cannot create HDF5 file"
write_nearly_full() {
  local what=$1 destination=$2 message=$3 status=0
  shift 3
  "$@" >"$work/out.txt" 2>&1 || status=$?
  local left
  left=$(find "$disk" -name '*.tmp.*')
  [ -z "$left" ] || fail "$what: exit $status, temporary file(s) left: $left: $(cat "$work/out.txt")"
  case $status in
  0)
    [ -s "$destination" ] || fail "$what: exit 0 but no $destination"
    echo "ok: $what: fits"
    ;;
  1)
    grep -q -- "$message" "$work/out.txt" || fail "$what: no '$message' in: $(cat "$work/out.txt")"
    grep -q "$reasons" "$work/out.txt" ||
      fail "$what: the message does not say the write failed: $(cat "$work/out.txt")"
    [ ! -e "$destination" ] || fail "$what: exit 1 but $destination was created"
    failures=$((failures + 1))
    echo "ok: $what: exit 1, $(grep -o "$reasons" \
      "$work/out.txt" | head -1)"
    ;;
  *) fail "$what: exit status $status: $(cat "$work/out.txt")" ;;
  esac
}

# Each writer meets a disk with no room, a little, and around the room its output needs (measured
# on the real disk first): there the data fits but HDF5's metadata, written at close, may not.
sweep() {
  local what=$1 destination=$2 message=$3 need room
  shift 3
  "$@" "$work/measure.h5" >/dev/null 2>&1 || fail "$what: does not run on the real disk"
  need=$(du -k "$work/measure.h5" | cut -f1)
  rm -f "$work/measure.h5"
  failures=0
  for room in 0 64 $((need / 2)) $(seq $((need - 24)) 4 $((need + 24))) $((need + 4096)); do
    fill_leaving "$room"
    write_nearly_full "$what, $room KiB free of $need needed" "$destination" "$message" "$@" "$destination"
  done
  [ "$failures" -ge 3 ] || fail "$what: only $failures of the writes failed; the disk was not full"
  [ -s "$destination" ] || fail "$what: did not fit even with 4 MiB to spare"
}

# A checkpoint (about 13 MB: parameters and Adam's moments) of a run whose data is on the real disk.
"$parbench" data synth --workload violence --samples 64 --frames 4 --dim 32 --out "$work/v.h5" >/dev/null
sweep checkpoint "$disk/c.h5" "cannot save checkpoint $disk/c.h5" \
  "$parbench" train --workload violence --data "$work/v.h5" --batch 16 --steps 2 --loader-threads 0 --quiet \
  --checkpoint

# data synth: 4000 samples of 4 x 32 float32, 2 MiB before gzip.
sweep "data synth" "$disk/s.h5" "cannot write $disk/s.h5" \
  "$parbench" data synth --workload violence --samples 4000 --frames 4 --dim 32 --out

# data import of .npy files written here (no numpy needed): 4000 x 4 x 32 float32 features, all
# finite (every byte below 0x80 keeps the exponent below 255), and int32 labels 0.
write_npy "$work/features.npy" '<f4' '(4000, 4, 32)' $((4000 * 4 * 32 * 4))
write_npy "$work/labels.npy" '<i4' '(4000,)' 0
head -c $((4000 * 4)) /dev/zero >>"$work/labels.npy"
sweep "data import" "$disk/i.h5" "cannot write $disk/i.h5" \
  "$parbench" data import --workload violence --features "$work/features.npy" --labels "$work/labels.npy" --out
