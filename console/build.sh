#!/usr/bin/env bash
# Builds the staff console into console/dist. Installs dependencies with `npm ci` when
# package-lock.json changed since the last install, and skips the build when no source changed.
set -euo pipefail
cd "$(dirname "$0")"

hash_of() { sha256sum "$@" | sha256sum | cut -c1-64; }

lock_hash="$(hash_of package-lock.json package.json)"
if [ ! -f node_modules/.console-lock-hash ] || [ "$(cat node_modules/.console-lock-hash)" != "$lock_hash" ]; then
  echo "console: installing dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >node_modules/.console-lock-hash
fi

src_hash="$(hash_of $(find src public -type f | LC_ALL=C sort) index.html vite.config.ts tsconfig.json package-lock.json)"
if [ -f dist/index.html ] && [ -f dist/.console-build-hash ] && [ "$(cat dist/.console-build-hash)" = "$src_hash" ]; then
  echo "console: dist is up to date"
  exit 0
fi

echo "console: type-checking and building"
npx --no-install tsc --noEmit -p .
npx --no-install vite build --logLevel warn
echo "$src_hash" >dist/.console-build-hash
echo "console: built into $(pwd)/dist"
