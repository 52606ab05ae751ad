#!/usr/bin/env bash
# Rebuilds vendor/connectrpc-*-es2018.tgz: the published @connectrpc/connect and
# @connectrpc/connect-node, with their ES modules compiled from the same sources for ES2018
# instead of ES2017. Why, and what it gains, is in vendor/README.md.
#
#   scripts/retarget-connect.sh CONNECT_ES_CHECKOUT VERSION
#
# CONNECT_ES_CHECKOUT is a clone of github.com/connectrpc/connect-es at the release VERSION
# (tag vVERSION), with its dependencies installed (npm ci). The script first proves that the
# checkout is that release: compiled for connect's own target, it must give byte for byte the
# JavaScript the registry publishes. Only then does it compile for ES2018 and pack. Nothing
# but dist/esm/**/*.js changes: package.json, the CommonJS build and the type declarations
# are the registry's.
set -euo pipefail
cd "$(dirname "$0")/.."

checkout=$(realpath "${1:?usage: $0 CONNECT_ES_CHECKOUT VERSION}")
version=${2:?usage: $0 CONNECT_ES_CHECKOUT VERSION}
tsc="$checkout/node_modules/.bin/tsc"
[ -x "$tsc" ] || { echo "no $tsc: run npm ci in the checkout first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Compiles one package's ES modules for a target into a directory laid out as dist/esm is.
compile() {
  local package=$1 target=$2 out=$3
  # Type errors from a newer @types/node do not change the emitted JavaScript; the comparison
  # with the registry's files below is what decides whether a build is sound.
  (cd "$checkout/packages/$package" &&
    "$tsc" -p tsconfig.json --target "$target" --declaration false --outDir "$work/tsc-out" >/dev/null) || true
  # connect-node's build also holds its conformance runner, beside src/.
  if [ -d "$work/tsc-out/src" ]; then mv "$work/tsc-out/src" "$out"; else mv "$work/tsc-out" "$out"; fi
  rm -rf "$work/tsc-out"
  find "$out" -name '*.spec.js' -delete
  # As upstream's postbuild step does.
  find "$out" -name request-header.js -exec sed -i "s#\"CONNECT_ES_USER_AGENT\"#\"connect-es/$version\"#" {} +
}

mkdir -p vendor
for package in connect connect-node; do
  echo "@connectrpc/$package@$version"
  (cd "$work" && npm pack --silent "@connectrpc/$package@$version" >/dev/null)
  mkdir "$work/$package"
  tar -xzf "$work/connectrpc-$package-$version.tgz" -C "$work/$package"
  published="$work/$package/package/dist/esm"

  compile "$package" es2017 "$work/$package-es2017"
  if ! diff -r -x '*.d.ts' -x testdata "$published" "$work/$package-es2017"; then
    echo "the checkout does not compile to the published @connectrpc/$package@$version" >&2
    exit 1
  fi

  compile "$package" es2018 "$work/$package-es2018"
  (cd "$work/$package-es2018" && find . -name '*.js' -path './*' ! -path './testdata/*') | while read -r file; do
    [ -f "$published/$file" ] || { echo "$file is not in the published package" >&2; exit 1; }
    cp "$work/$package-es2018/$file" "$published/$file"
  done

  # Reproducible, as npm pack's own tarballs are: the same input gives the same integrity.
  tar --sort=name --mtime='1985-10-26 08:15:00Z' --owner=0 --group=0 --numeric-owner \
    -C "$work/$package" -cf - package | gzip -n -9 >"vendor/connectrpc-$package-$version-es2018.tgz"
  echo "  vendor/connectrpc-$package-$version-es2018.tgz"
done
