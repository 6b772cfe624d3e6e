#!/usr/bin/env bash
# Static analysis: clang-tidy-14 with the repository's .clang-tidy over the project's own .cpp files
# in a build folder's compile database (headers are checked through the files that include them),
# then clang-tidy-22 over kernels/**/*.cu. Any finding fails the run (.clang-tidy: WarningsAsErrors).
#   scripts/tidy.sh                      # every file in build/ci's database, all cores
#   scripts/tidy.sh build/tidy           # another build folder (configured with the ci preset if empty)
#   scripts/tidy.sh --changed origin/main  # only files changed since a ref (and the .cpp files that
#                                          # include a changed header); for local use
#   scripts/tidy.sh --analyzer           # also the clang static analyzer's core, C++, dead-code, unix
#                                        # and MPI checkers (path-sensitive: about 4x the time; in
#                                        # bench/ it flags Google Benchmark's `for (auto _ : state)`
#                                        # and its registry's allocations, both false)
#   TIDY_JOBS=4 scripts/tidy.sh          # parallel jobs (default: nproc)
# Needs clang-tidy-14 (Debian bookworm: clang-tidy-14) and python3; the CUDA pass needs
# clang-tidy-22 (bookworm-security) and the CUDA toolkit in /usr/local/cuda, and says so when
# either is missing instead of failing. No target generates headers (build_info.cpp is a generated
# source, not checked), so the configure step alone gives tidy all it needs. kernels/cuda's .cu
# files are in the database too (the emulated build compiles them as C++): the C++ pass checks
# them against the emulation, the CUDA pass as CUDA. A full run costs about 10 CPU-minutes
# (5 minutes on 2 idle cores); it prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

build=${BUILD_DIR:-build/ci}
base=""
analyzer=""
while (($#)); do
  case $1 in
    --changed) base=${2:?--changed needs a git ref}; shift 2 ;;
    --analyzer) analyzer=1; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "tidy: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
jobs=${TIDY_JOBS:-$(nproc)}
tidy=${CLANG_TIDY:-clang-tidy-14}
tidy_cuda=${CLANG_TIDY_CUDA:-clang-tidy-22}
cuda=${CUDA_PATH:-/usr/local/cuda}
start=$SECONDS

command -v "$tidy" >/dev/null || { echo "tidy: $tidy not found (apt-get install clang-tidy-14)" >&2; exit 2; }
if [[ ! -f $build/compile_commands.json ]]; then
  echo "tidy: no compile database in $build; configuring it with the ci preset"
  cmake --preset ci -B "$build" >/dev/null
fi
build=$(cd "$build" && pwd)

# The project's own translation units: under the repository, outside every build folder (that
# excludes generated sources such as build_info.cpp).
mapfile -t all_files < <(python3 - "$build/compile_commands.json" "$root" "$build" <<'EOF'
import json, os, sys
db, root, build = sys.argv[1], sys.argv[2] + "/", sys.argv[3] + "/"
files = set()
for entry in json.load(open(db)):
    f = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    if f.startswith(root) and not f.startswith(build) and not f.startswith(root + "build/"):
        files.add(f)
for f in sorted(files):
    print(f)
EOF
)

cu_files=()
while IFS= read -r f; do cu_files+=("$root/$f"); done < <(find kernels -name '*.cu' 2>/dev/null | sort)

if [[ -n $base ]]; then
  git rev-parse --verify -q "$base^{commit}" >/dev/null || { echo "tidy: unknown git ref $base" >&2; exit 2; }
  mapfile -t changed < <({ git diff --name-only --diff-filter=d "$base" --; git ls-files --others --exclude-standard; } | sort -u)
  declare -A want=()
  for c in "${changed[@]}"; do
    case $c in
      *.cpp | *.cu) want[$root/$c]=1 ;;
      *.h | *.cuh)  # a changed header: every source that includes it by its repository path
        for f in "${all_files[@]}" "${cu_files[@]}"; do
          grep -qF "#include \"$c\"" "$f" && want[$f]=1
        done ;;
    esac
  done
  keep() { local out=() f; for f in "$@"; do [[ -n ${want[$f]:-} ]] && out+=("$f"); done; printf '%s\n' "${out[@]}"; }
  mapfile -t all_files < <(keep "${all_files[@]}" | sed '/^$/d')
  mapfile -t cu_files < <(keep "${cu_files[@]}" | sed '/^$/d')
fi

# On top of .clang-tidy's checks (--checks adds to the file's list).
extra=()
if [[ -n $analyzer ]]; then
  # shellcheck disable=SC2054  # commas separate the globs of one flag
  extra=(--checks=clang-analyzer-core.*,clang-analyzer-cplusplus.*,clang-analyzer-deadcode.*,clang-analyzer-unix.*,clang-analyzer-optin.mpi.*)
fi

status=0
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT

# Runs one clang-tidy per file in parallel; a file's output is printed in one piece, and only when it
# has findings (or clang-tidy failed), so parallel jobs do not interleave and a clean run is quiet.
run_parallel() {  # run_parallel NAME TIDY ARGS... -- FILES...
  local name=$1; shift
  local args=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  # shellcheck disable=SC2016  # the script runs in the child bash, which expands it
  printf '%s\n' "$@" | xargs -d '\n' -P "$jobs" -n 1 bash -c '
    report=$1; shift; file=${@: -1}
    if out=$("$@" 2>&1); then exit 0; fi
    echo "$file" >> "$report/failed"
    printf "==== %s\n%s\n" "${file#$PWD/}" "$(grep -Ev "^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$" <<<"$out")"
    exit 1' _ "$report" "${args[@]}" || true
  local failed=0
  [[ -f $report/failed ]] && failed=$(wc -l <"$report/failed")
  rm -f "$report/failed"
  echo "tidy: $name: $# file(s), $failed with findings"
  ((failed == 0))
}

if ((${#all_files[@]} == 0)); then
  echo "tidy: C++ pass: no files to check"
else
  echo "tidy: C++ pass: $tidy on ${#all_files[@]} file(s) from $build, $jobs jobs"
  run_parallel "C++ pass" "$tidy" -p "$build" --quiet "${extra[@]}" -- "${all_files[@]}" || status=1
fi

# CUDA pass. The CUDA build compiles .cu files with nvcc, whose flags clang cannot read, so the
# files are parsed here as clang's CUDA with the include paths the project uses.
if ((${#cu_files[@]} == 0)); then
  echo "tidy: CUDA pass: no .cu files to check"
elif ! command -v "$tidy_cuda" >/dev/null; then
  echo "tidy: CUDA pass: SKIPPED, $tidy_cuda not installed (Debian bookworm-security: apt-get install clang-tidy-22)"
elif [[ ! -d $cuda/include ]]; then
  echo "tidy: CUDA pass: SKIPPED, no CUDA toolkit in $cuda (set CUDA_PATH)"
else
  # A compile database of their own, so both passes run the same way.
  mkdir -p "$report/cuda"
  python3 - "$root" "$cuda" "${cu_files[@]}" >"$report/cuda/compile_commands.json" <<'EOF'
import json, sys
root, cuda, files = sys.argv[1], sys.argv[2], sys.argv[3:]
flags = ["-xcuda", "--cuda-path=" + cuda, "--cuda-gpu-arch=sm_90a", "-std=c++20", "-I" + root, "-I" + cuda + "/include"]
print(json.dumps([{"directory": root, "file": f, "arguments": ["clang++", *flags, "-c", f]} for f in files], indent=1))
EOF
  echo "tidy: CUDA pass: $tidy_cuda on ${#cu_files[@]} .cu file(s)"
  run_parallel "CUDA pass" "$tidy_cuda" -p "$report/cuda" --quiet "${extra[@]}" -- "${cu_files[@]}" || status=1
fi

echo "tidy: $( ((status == 0)) && echo clean || echo FINDINGS) in $((SECONDS - start)) s"
exit $status
