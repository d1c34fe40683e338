#!/usr/bin/env bash
# The spandrel tests (load_checkpoint on SwinIR, HAT, ESRGAN, RCAN, SPAN, Compact).
#
# spandrel needs torchvision, and no torchvision imports beside the main venv's
# torch 2.13.0, so these tests run in a second venv with torch 2.14.1 and
# torchvision 0.29.1. The venv is kept under /tmp and reused while it works.
# Usage: bash .ci/spandrel.sh   (from anywhere; exits non-zero on failure)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

VENV=${CAPTUM_LAM_SPANDREL_VENV:-/tmp/captum-lam-spandrel}
TORCH=2.14.1
TORCHVISION=0.29.1

pip_install() {
    # pip warns once per package about this machine's missing local index folders.
    "$VENV/bin/python" -m pip install -q "$@" 2> >(grep -v "^WARNING: Location" >&2)
}

# Exit 0: ready (prints the versions); 2: no venv or wrong torch/torchvision;
# 3: spandrel or this checkout's captum_lam missing.
check() {
    [ -x "$VENV/bin/python" ] || return 2
    # From /, so that the checkout in the working directory does not shadow the install.
    local here=$PWD
    (cd / && "$VENV/bin/python" - "$here" "$TORCH" "$TORCHVISION") <<'PY'
import sys

here, want_torch, want_torchvision = sys.argv[1:]
try:
    import torch
    import torchvision

    assert torch.__version__.split("+")[0] == want_torch, torch.__version__
    assert torchvision.__version__.split("+")[0] == want_torchvision
except Exception as error:
    print(f"spandrel venv: torch/torchvision not usable: {error!r}")
    sys.exit(2)
try:
    import spandrel

    import captum_lam

    assert captum_lam.__file__.startswith(here + "/"), captum_lam.__file__
except Exception as error:
    print(f"spandrel venv: spandrel/captum_lam not usable: {error!r}")
    sys.exit(3)
print(
    f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
    f"spandrel {spandrel.__version__}, captum_lam from {captum_lam.__file__}"
)
PY
}

# The editable install must point at this checkout (CI clones elsewhere) and
# follow pyproject.toml: reinstall when either changed.
stamp="$PWD $(sha256sum pyproject.toml | cut -d' ' -f1)"
status=0
check || status=$?
if [ "$status" = 2 ]; then
    echo "spandrel venv: creating $VENV (torch $TORCH, torchvision $TORCHVISION)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    pip_install --upgrade pip
    # torch and torchvision first, pinned, so the package's torch>=2.1 keeps them.
    pip_install "torch==$TORCH" "torchvision==$TORCHVISION"
fi
if [ "$status" != 0 ] || [ "$(cat "$VENV/.captum-lam-stamp" 2>/dev/null)" != "$stamp" ]; then
    pip_install -e ".[test,checkpoints]"
    echo "$stamp" > "$VENV/.captum-lam-stamp"
    check # set -e: fails here if torch was replaced or spandrel is missing
else
    echo "spandrel venv: reusing $VENV"
fi
echo "spandrel venv ready after $((SECONDS - start)) s"

# The networks are tiny: one thread avoids OpenMP spinning on a busy 2-core machine
# (with 2 threads the same tests took several times longer there).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -m spandrel tests/test_spandrel.py
echo "spandrel tests done after $((SECONDS - start)) s"
