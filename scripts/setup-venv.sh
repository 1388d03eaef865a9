#!/usr/bin/env bash
# Build (or refresh) a virtual environment for the project, pinned by constraints.txt.
# Usage: scripts/setup-venv.sh VENV EXTRAS        e.g. scripts/setup-venv.sh .venv dev,export,demo
# Re-running is cheap: a stamp of pyproject + constraints + extras skips an unchanged install.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
EXTRAS="${2:-dev}"
PY="${PYTHON:-python3}"
stamp_want="$(cat pyproject.toml constraints.txt scripts/install-test-models.sh 2>/dev/null | sha256sum | cut -c1-16)-$EXTRAS"
if [ -f "$VENV/.edge-stamp" ] && [ "$(cat "$VENV/.edge-stamp")" = "$stamp_want" ]; then
    exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
# The distribution was called edge-agent before (a name the public index gives to an unrelated project
# that also ships a top-level edge_agent module): drop it so only this tree provides edge_agent.
"$VENV/bin/pip" uninstall -q -y edge-agent 2>&1 | grep -v '^WARNING: Skipping' || true
"$VENV/bin/pip" install -q -c constraints.txt -e ".[$EXTRAS]" 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/python" -c "import edge_agent" # fail here, not in the tests, if the install did not work
echo "$stamp_want" > "$VENV/.edge-stamp"
