#!/usr/bin/env bash
# The coder model in-process against the same model behind a real llama-server, on the
# same tasks and samples: `search --proposer llm` once with `--backend llama` and once
# with `--backend openai`, each run's report.json kept in benchmarks/results/.
#
#   benchmarks/llm_server.sh MODEL.gguf [TASK_ID...]
#
# Builds the server first if needed (scripts/llama-server build). The server gets the
# same threads as the in-process run and 8 slots, one per sample; it starts cold, so
# its prompt cache holds nothing from earlier runs. Add the row to RESULTS.md by hand
# from the two summaries this prints.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
model="${1:?usage: benchmarks/llm_server.sh MODEL.gguf [TASK_ID...]}"
shift
ids=("$@")
[ ${#ids[@]} -gt 0 ] || ids=(3c9b0459 ed36ccf7 6150a2bd 74dd1130 8be77c9e c9e6f938)
threads="$(nproc)"
port=8093
bin="$root/target/release/arcsynth"
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/tasks"
for id in "${ids[@]}"; do cp "$root/data/arc-agi-1/training/$id.json" "$work/tasks/"; done
[ -x "$root/target/llama-server/build/bin/llama-server" ] || "$root/scripts/llama-server" build
(cd "$root" && cargo build --release --quiet)

common=(search --proposer llm --tasks "$work/tasks" --samples 8 --batch 8 --refine-rounds 1 --max-tokens 384)

echo "== in-process llama.cpp, $threads threads"
"$bin" "${common[@]}" --out "$work/inprocess" --model "$model" --threads "$threads"

"$root/scripts/llama-server" serve "$model" "$port" 8 "$threads" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 1
done
echo "== llama-server, 8 slots, $threads threads"
"$bin" "${common[@]}" --out "$work/server" --backend openai --endpoint "http://127.0.0.1:$port/v1" \
    --model "$(basename "$model" .gguf)" --concurrency 8

cp "$work/inprocess/report.json" "$root/benchmarks/results/llm_server_inprocess_report.json"
cp "$work/server/report.json" "$root/benchmarks/results/llm_server_openai_report.json"
echo "wrote benchmarks/results/llm_server_{inprocess,openai}_report.json"
