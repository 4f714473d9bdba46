#!/bin/bash
# On the GPU machine, from the checkout: runs the benchmarks whose compressed binaries
# are in .devdata/bin/ (copied from .devdata/bin-all/, made by build-cuda.sh; about 45 MB
# each, so one per trip under a 64 MB transfer limit),
# with ARC tasks from ARC_DATA (default .devdata/arc). Results land in
# benchmarks/results/ and benchmarks/RESULTS.md, and are copied to $OUT when set.
# TASKS (3) and LIMIT (420 s) bound the Qwen3-4B-shaped run.
set -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
L=$(dirname "$(find / -xdev -name 'libcublas.so.13' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH=$L:${LD_LIBRARY_PATH:-}
for f in .devdata/bin/*.xz; do xz -d -f -T0 "$f"; done
chmod +x .devdata/bin/*
ldd .devdata/bin/* | grep -E "not found" && exit 1
export ARCSYNTH_BENCH_ROOT=$PWD ARC_DATA=${ARC_DATA:-$PWD/.devdata/arc}
mkdir -p target benchmarks/results
save() { [ -n "${OUT:-}" ] && cp benchmarks/results/*.json benchmarks/RESULTS.md "$OUT"/ 2>/dev/null; true; }
for b in .devdata/bin/*; do
  case $(basename $b) in
  ttt)
    ARCSYNTH_BENCH_PRESET=grid-tiny ARCSYNTH_BENCH_GPU_LAYERS=99 $b 2>&1 | tail -4; save
    ARCSYNTH_BENCH_PRESET=qwen3-4b-grid ARCSYNTH_BENCH_GPU_LAYERS=99 ARCSYNTH_BENCH_TASKS=${TASKS:-3} \
      timeout ${LIMIT:-420} $b 2>&1 | tail -12; save ;;
  llm_throughput)
    ARCSYNTH_BENCH_PRESET=qwen2.5-coder-1.5b ARCSYNTH_BENCH_GPU_LAYERS=99 ARCSYNTH_BENCH_TOKENS=128 \
      timeout ${LIMIT:-420} $b 2>&1 | tail -6; save ;;
  esac
done
