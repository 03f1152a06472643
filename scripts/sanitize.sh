#!/usr/bin/env bash
# Builds pygd with AddressSanitizer + UndefinedBehaviorSanitizer into a
# throwaway virtual environment and runs the kernel tests under them, once per
# SIMD level this CPU supports (PYGD_SIMD=<level>; the tests' simd_level
# fixture also switches levels inside each run).
#
#   scripts/sanitize.sh            tests/test_core_*.py, tests/test_linear*.py, tests/test_sparse*.py,
#                                  tests/test_preprocessing_sparse.py, tests/test_lbfgs.py
#   scripts/sanitize.sh --quick    tests/test_core_train.py, the CSR input/kernel tests and the lazy
#                                  steps' threaded parts and shrink, the CSR column statistics,
#                                  L-BFGS's vector kernels (for CI)
#
# Environment: PYTHON (default python3), SANITIZE_WORK (default: a temp dir,
# removed at exit unless KEEP=1).  Needs gcc's libasan/libubsan (LD_PRELOADed
# because the Python interpreter itself is not instrumented).
set -euo pipefail

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
work=${SANITIZE_WORK:-$(mktemp -d)}
if [ "${KEEP:-0}" != 1 ] && [ -z "${SANITIZE_WORK:-}" ]; then
  trap 'rm -rf "$work"' EXIT
fi

asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
for lib in "$asan" "$ubsan"; do
  [ -e "$lib" ] || { echo "sanitizer runtime not found: $lib" >&2; exit 2; }
done

echo "== virtual environment in $work/venv"
if [ ! -x "$work/venv/bin/python" ]; then
  "$python" -m venv --system-site-packages "$work/venv"
fi
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
python -c "import numpy, scipy, sklearn, pytest, pybind11, scikit_build_core" 2>/dev/null ||
  python -m pip install --quiet scikit-build-core pybind11 cmake ninja numpy scipy scikit-learn pytest hypothesis threadpoolctl

echo "== build with -fsanitize=address,undefined"
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
python -m pip install --quiet --no-build-isolation --no-deps --force-reinstall \
  -Cbuild-dir="$work/build" \
  -Ccmake.build-type=RelWithDebInfo \
  -Ccmake.define.CMAKE_CXX_FLAGS="$flags" \
  -Ccmake.define.CMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -Ccmake.define.CMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
  "$repo"

if [ "$quick" = 1 ]; then
  # The engine's kernels, and CSR input: the bad structures, values and shapes, and one
  # pass of every CSR kernel (tests/test_sparse.py's kernel and input tests); the lazy
  # steps' threaded parts (chunks shared by the threads, two row blocks per batch); the
  # passes at coefficients 0 (by class: rows read in class order); L-BFGS's vector kernels;
  # the lazy SGD shrink's factor (kept apart, multiplied in); the CSR column statistics
  # (one pass, and the second over the columns it leaves).
  tests=("$repo/tests/test_core_train.py" "$repo/tests/test_sparse_input.py" "$repo/tests/test_sparse.py"
         "$repo/tests/test_sparse_lazy.py" "$repo/tests/test_lbfgs.py"
         "$repo/tests/test_preprocessing_sparse.py")
  quick_filter=" and (test_core_train or test_sparse_input or csr_matrix or duplicates or non_finite or input_checks or linear_predict or lazy_option or look_ahead or two_row_blocks or parallel_same_bits or zero_coefficients or lbfgs_direction or lbfgs_pair or lbfgs_vector_kernels or lazy_shrink or test_stats_)"
else
  tests=("$repo"/tests/test_core_*.py "$repo"/tests/test_linear*.py "$repo"/tests/test_sparse*.py
         "$repo/tests/test_preprocessing_sparse.py" "$repo/tests/test_lbfgs.py")
  quick_filter=""
fi

export LD_PRELOAD="$asan $ubsan"
# Leaks: CPython's own allocations are reported at exit; not ours to judge.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYGD_TEST_INSTALLED=1
cd "$work"
# Fails here (not silently with no levels) if the build does not import.
supported=$(python -c "from pygd import _core; print(' '.join(_core.simd_levels_supported()))")
echo "SIMD levels this CPU supports: $supported"
if [ "$quick" = 1 ]; then
  levels=("")
else
  read -r -a levels <<< "$supported"
fi
status=0
for level in "${levels[@]}"; do
  echo "== tests under ASan+UBSan, PYGD_SIMD=${level:-<default>}"
  if [ -n "$level" ]; then export PYGD_SIMD=$level; else unset PYGD_SIMD; fi
  # test_thread_determinism_in_subprocesses starts Pythons with a clean environment
  # (no LD_PRELOAD), which the ASan runtime refuses to run in: not a pygd problem.
  python -m pytest "${tests[@]}" -q -x -p no:cacheprovider \
    -k "not test_thread_determinism_in_subprocesses$quick_filter" || status=$?
done
exit "$status"
