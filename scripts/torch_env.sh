#!/usr/bin/env bash
# The Python environment of the PyTorch trainer (scripts/torch_train.py, scripts/torch_logits.py):
# a virtual environment cached in $HOME/.cache/cantor-torch with pinned torch, numpy and safetensors.
# Prints the environment's python on stdout (the only line there; progress goes to stderr), so
#
#   PY=$(bash scripts/torch_env.sh) && "$PY" scripts/torch_train.py RUN/
#
# Installs only when an import fails or a version differs from the pins, so a second call costs one
# Python start-up. pip needs the network (the torch wheel is large); the check alone does not.
set -euo pipefail

VENV="$HOME/.cache/cantor-torch"
PINS=(torch==2.15.0 numpy==2.4.6 safetensors==0.8.0)
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
  echo "creating the virtual environment $VENV" >&2
  python3 -m venv "$VENV" >&2
fi

# True when every pinned package imports and its installed version is the pinned one. The local
# suffix of a version ("2.15.0+cu132") is ignored: the pin names the release, not the build.
pinned() {
  "$PY" - "${PINS[@]}" <<'EOF' 2>/dev/null
import importlib, importlib.metadata, sys
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    importlib.import_module(name)
    if importlib.metadata.version(name).split("+")[0] != want:
        sys.exit(1)
EOF
}

if ! pinned; then
  echo "installing ${PINS[*]} into $VENV" >&2
  # pip's own chatter goes to stderr too: stdout carries only the python path.
  "$PY" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
  pinned || { echo "the pinned packages still do not import from $VENV after pip install" >&2; exit 1; }
fi

echo "$PY"
