#!/usr/bin/env bash
# Set-up for arcsynth on a fresh machine: installs the system packages that the build
# and the tests need (a C/C++ toolchain, cmake and libclang to build llama.cpp; pkg-config;
# Chromium for the HTML report tests), skipping what is present, then builds the release
# binary. Needs a Rust toolchain (https://rustup.rs). Debian/Ubuntu install with apt-get
# (through sudo when not root); other systems get the list of what to install.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust first (https://rustup.rs), then rerun ./setup.sh" >&2
  exit 1
fi

# package: the command or file that shows it is present
need=()
command -v cc >/dev/null || need+=(build-essential)
command -v c++ >/dev/null || need+=(g++)
command -v cmake >/dev/null || need+=(cmake)
command -v clang >/dev/null || need+=(clang)
# bindgen loads libclang itself (libclang-cpp, which clang brings, is not it).
ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/*/libclang-[0-9]*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
# cargo fetches crates over HTTPS and checks the server against the system's CA bundle.
[ "$(uname)" != Linux ] || [ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "${CHROMIUM:-}" ] || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q "${need[@]}"
  elif [ "$(uname)" = Darwin ]; then
    echo "setup: missing ${need[*]}; on macOS: xcode-select --install; brew install cmake llvm pkg-config; brew install --cask chromium (or set CHROMIUM=/path/to/chrome)" >&2
    exit 1
  else
    echo "setup: missing ${need[*]}; install them with your package manager (Debian names: build-essential g++ cmake clang libclang-dev pkg-config ca-certificates chromium), then rerun ./setup.sh" >&2
    exit 1
  fi
else
  echo "setup: system packages present"
fi

echo "setup: building the release binary (llama.cpp compiles from source: about 10 minutes the first time on 2 cores)"
cargo build --release
echo "setup: done. Next: ./target/release/arcsynth search --tasks examples/tasks --out runs/examples"
