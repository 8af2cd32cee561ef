#!/usr/bin/env bash
# What the tests need besides Node, checked before `pnpm test` runs them:
#   chromium    the browser tests drive Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH)
#   zsh         the README's walk-through is run in bash and in zsh (zsh on the PATH)
#   postgresql  the PostgreSQL tests start servers of their own from its binaries
#               (/usr/lib/postgresql/*/bin, or PG_BIN); no system cluster is created
# Missing ones are installed with apt-get when this runs as root (or with sudo that asks no
# password); otherwise it stops at once and prints the one command that installs them.
set -euo pipefail

missing=()
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v zsh > /dev/null || missing+=(zsh)
if [ -z "${PG_BIN:-}" ]; then
  compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null || missing+=(postgresql)
elif [ ! -x "$PG_BIN/initdb" ]; then
  echo "test prerequisites: PG_BIN=$PG_BIN has no initdb" >&2
  exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

as=()
can_install=false
if command -v apt-get > /dev/null; then
  if [ "$(id -u)" = 0 ]; then
    can_install=true
  elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    as=(sudo) can_install=true
  fi
fi
if [ "$can_install" = false ]; then
  {
    echo "The tests need ${missing[*]}, which this machine does not have. Install them, then run the tests again:"
    if command -v apt-get > /dev/null; then
      echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    else
      echo "  Chromium (CHROMIUM_PATH=<its binary>), zsh and PostgreSQL (PG_BIN=<its bin folder>) from your system's packages"
    fi
  } >&2
  exit 1
fi

echo "test prerequisites: installing ${missing[*]} (apt-get)" >&2
if [[ " ${missing[*]} " == *' postgresql '* ]]; then
  # Only the binaries are needed: the package creates no cluster of its own.
  ${as[@]+"${as[@]}"} mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' |
    ${as[@]+"${as[@]}"} tee /etc/postgresql-common/createcluster.d/usher-tests.conf > /dev/null
fi
${as[@]+"${as[@]}"} apt-get update -qq
${as[@]+"${as[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
echo "test prerequisites: installed ${missing[*]}" >&2
