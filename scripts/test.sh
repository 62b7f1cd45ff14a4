#!/usr/bin/env bash
# Installs everything the whole test suite needs on a fresh Debian machine, then runs it.
# Arguments are passed to pytest (e.g. `bash scripts/test.sh tests/unit`).
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  else
    echo "The browser tests need Chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

# The scale-out tests run a real Redis and nginx in front of server processes (Debian's packages).
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "The scale-out tests need ${missing[*]}: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
# Compile the fast path once (about 10 s on a fresh clone, then cached on disk), so
# no test's server spends its first seconds compiling.
python3 -c "from app.nn import fast; fast.warm_up() or print('fast path unavailable:', fast.reason())"
# The code's own rules first: lint, types, and the layers of the house (pyproject.toml).
python3 -m ruff check app tests benchmarks scripts
python3 -m mypy
# (through python3: a console script installed just now may not be on PATH yet)
python3 -c "import sys; from importlinter.cli import lint_imports_command; sys.argv = ['lint-imports']; lint_imports_command()"
python3 -m pytest "$@"
