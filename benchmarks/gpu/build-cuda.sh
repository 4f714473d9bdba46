#!/bin/bash
# Builds the `cuda` feature (llama.cpp + candle on CUDA 13.0, sm_90 = H100/H200) on a
# machine with no CUDA toolkit and no GPU, from NVIDIA's PyPI wheels, then strips and
# xz-compresses the ttt and llm_throughput benchmarks and arcsynth into
# .devdata/bin-all/, and copies the ttt benchmark's 10 tasks to .devdata/arc/, to be run
# on a GPU machine by benchmarks/gpu/run.sh (carry .devdata).
# About 50 minutes on 2 cores (ggml-cuda's 144 CUDA files). A machine with the CUDA
# toolkit needs none of this: `cargo build --release --features cuda`.
#
# The wheels hold no static cuBLAS, culibos or libcuda stub, which llama-cpp-sys-2
# links on Linux: empty archives stand in for the static libraries, the shared cuBLAS
# is linked instead (found at run time beside PyTorch on the GPU machine), and a stub
# libcuda.so with soname libcuda.so.1 (every cu* symbol of cuda.h) satisfies the linker.
set -euo pipefail
CU=${CU:-/opt/cu13}
C=$CU/nvidia/cu13
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -x $C/bin/nvcc ]; then
  mkdir -p $CU/wheels
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d $CU/wheels nvidia-cuda-nvcc==13.0.88 nvidia-cuda-runtime==13.0.96 nvidia-cuda-crt==13.0.88 \
    nvidia-nvvm==13.0.88 nvidia-cuda-cccl==13.0.85 nvidia-cublas==13.0.0.19 \
    nvidia-cuda-nvrtc==13.0.88 nvidia-curand==10.4.0.35
  for w in $CU/wheels/*.whl; do unzip -q -o "$w" -d $CU; done
  (cd $C/lib && for l in cudart cublas cublasLt nvrtc curand; do ln -sf "$(ls lib$l.so.* | head -1)" lib$l.so; done)
  ln -sfn lib $C/lib64
  python3 - "$C" <<'PY'
import re, sys
s = open(sys.argv[1] + '/include/cuda.h').read()
names = set(re.findall(r'\b(cu[A-Z]\w*)\s*\(', s)) | set(re.findall(r'#define\s+cu[A-Z]\w*\s+(cu[A-Z]\w*)', s))
open('/tmp/cudastub.c', 'w').write(''.join(f'void {n}(void) {{}}\n' for n in sorted(names)))
PY
  mkdir -p $C/lib/stubs $CU/empty
  gcc -shared -fPIC -o $C/lib/stubs/libcuda.so -Wl,-soname,libcuda.so.1 /tmp/cudastub.c
  cp $C/lib/stubs/libcuda.so $C/lib/libcuda.so
  (cd $CU/empty && for l in cublas_static cublasLt_static culibos; do ar rc lib$l.a; done)
fi
export PATH=$C/bin:$PATH CUDA_PATH=$C CUDA_HOME=$C CUDA_ROOT=$C CUDACXX=$C/bin/nvcc
export CMAKE_CUDA_ARCHITECTURES=90 CUDA_COMPUTE_CAP=90
export RUSTFLAGS="-L native=$CU/empty -L native=$C/lib -C link-arg=-Wl,--no-as-needed -C link-arg=-lcublas -C link-arg=-lcublasLt -C link-arg=-lcuda"
# --target keeps RUSTFLAGS off build scripts, which run here without cuBLAS.
T=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/cuda}
cd "$ROOT"
cargo bench --no-run --features cuda --target $T --bench ttt --bench llm_throughput
cargo build --release --features cuda --target $T
out=$ROOT/.devdata/bin-all
mkdir -p $out
D=$CARGO_TARGET_DIR/$T/release
for b in ttt llm_throughput; do
  strip -o $out/$b "$(ls -t $D/deps/$b-* | grep -v '\.d$' | head -1)"
done
strip -o $out/arcsynth $D/arcsynth
xz -f -T0 -6 $out/ttt $out/llm_throughput $out/arcsynth
ls -la $out
# The ttt benchmark's tasks: the first 10 training tasks whose grids are at most 10x10.
mkdir -p .devdata/arc
python3 - "${ARC_DATA:-$ROOT/data/arc-agi-1/training}" .devdata/arc <<'PY'
import glob, json, shutil, sys
small = [f for f in sorted(glob.glob(sys.argv[1] + '/*.json'))
         if all(max(len(p[k]), len(p[k][0])) <= 10 for p in json.load(open(f))['train'] for k in ('input', 'output'))]
for f in small[:10]:
    shutil.copy(f, sys.argv[2])
PY
