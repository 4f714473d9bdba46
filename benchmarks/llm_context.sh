#!/usr/bin/env bash
# N=8 decoding against the length of the prompt all eight sequences share: how much of
# the decode rate the DSL reference's length costs (#21).
#
#   benchmarks/llm_context.sh MODEL.gguf [CHARS...]
#
# Each run's prompt is the first CHARS characters of `arcsynth dsl docs` and a one-line
# request; 8 sequences x 64 tokens, temperature 1.0. ARCSYNTH_BENCH_REPS (default 2)
# runs every length that many times, interleaved. Prints prompt tokens and decode
# tokens/s per run; add the row to RESULTS.md by hand.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
model="${1:?usage: benchmarks/llm_context.sh MODEL.gguf [CHARS...]}"
shift
lengths=("$@")
[ ${#lengths[@]} -gt 0 ] || lengths=(1500 6000 11000 100000)
bin="$root/target/release/arcsynth"
(cd "$root" && cargo build --release --quiet)
docs="$("$bin" dsl docs)"

for _ in $(seq "${ARCSYNTH_BENCH_REPS:-2}"); do
    for n in "${lengths[@]}"; do
        prompt="${docs:0:$n}
Write a Rhai program fn solve(g) that rotates the grid and then doubles it. Explain at length first."
        "$bin" -q dev generate --model "$model" -n 8 --max-tokens 64 --temperature 1.0 \
            --prompt "$prompt" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
tokens = sum(c["tokens"] for c in d["completions"])
t = d["generation_time"]["secs"] + d["generation_time"]["nanos"] / 1e9
n = d["prompt_tokens"]
print(f"{n} prompt tokens: {tokens} tokens in {t:.1f} s, {tokens / t:.1f} tokens/s")'
    done
done
