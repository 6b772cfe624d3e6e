# write_npy PATH DESCR SHAPE BYTES: a .npy file (format 1.0) for the script tests, written without
# numpy. The data are BYTES random bytes each below 0x80, so float32 values are finite (the
# exponent stays below 255); BYTES 0 writes the header only, for the caller to append data.
# Sourced by tests/full_disk.sh and tests/interrupt_outputs.sh.
write_npy() {
  local path=$1 descr=$2 shape=$3 bytes=$4 header
  header="{'descr': '$descr', 'fortran_order': False, 'shape': $shape, }"
  while [ $(((10 + ${#header} + 1) % 64)) -ne 0 ]; do header+=" "; done
  {
    printf '\x93NUMPY\x01\x00'
    printf "\\x$(printf %02x $(((${#header} + 1) % 256)))\\x$(printf %02x $(((${#header} + 1) / 256)))"
    printf '%s\n' "$header"
    head -c "$bytes" /dev/urandom | tr '\200-\377' '\000-\177'
  } >"$path"
}
