#!/usr/bin/env bash
# Decoding inside `search` at --threads 1 against every core, on the same tasks and
# samples, with the sandbox thread evaluating programs while the model writes the next
# batch: whether leaving a core to the sandbox pays.
#
#   benchmarks/llm_threads.sh MODEL.gguf [TASK_ID...]
#
# ARCSYNTH_BENCH_THREADS="2" runs only the thread counts given (default: "1 $(nproc)").
#
# Prints each run's tokens/s, prefill and generation seconds and seconds per task, and
# keeps each run's report.json as benchmarks/results/llm_threads_t{1,N}_report.json.
# Add the row to RESULTS.md by hand.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
model="${1:?usage: benchmarks/llm_threads.sh MODEL.gguf [TASK_ID...]}"
shift
ids=("$@")
[ ${#ids[@]} -gt 0 ] || ids=(3c9b0459 6150a2bd 8be77c9e)
cores="$(nproc)"
bin="$root/target/release/arcsynth"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/tasks"
for id in "${ids[@]}"; do cp "$root/data/arc-agi-1/training/$id.json" "$work/tasks/"; done
(cd "$root" && cargo build --release --quiet)

for t in ${ARCSYNTH_BENCH_THREADS:-1 $cores}; do
    "$bin" -q search --proposer llm --tasks "$work/tasks" --samples 8 --batch 8 --refine-rounds 1 \
        --max-tokens 384 --model "$model" --threads "$t" --out "$work/t$t"
    cp "$work/t$t/report.json" "$root/benchmarks/results/llm_threads_t${t}_report.json"
    python3 - "$work/t$t/report.json" "$t" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
l = r["llm"]
print(f"--threads {sys.argv[2]}: {l['tokens_per_second']:.1f} tokens/s decoding "
      f"({l['completion_tokens']} tokens), {l['prompt_seconds']:.0f} s prefill, "
      f"{l['generation_seconds']:.0f} s generation, median {r['median_seconds']:.1f} s/task, "
      f"pass@2 {r['pass_at_2']}/{r['tasks']}")
PY
done
