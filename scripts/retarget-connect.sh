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
# are the registry's. Needs GNU tar (1.28 or later) and GNU gzip, for reproducible tarballs.
set -euo pipefail
cd "$(dirname "$0")/.."

checkout=$(realpath "${1:?usage: $0 CONNECT_ES_CHECKOUT VERSION}")
version=${2:?usage: $0 CONNECT_ES_CHECKOUT VERSION}
tsc="$checkout/node_modules/.bin/tsc"
[ -x "$tsc" ] || { echo "no $tsc: run npm ci in the checkout first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The .js files under a directory, as relative paths, sorted; tests and test data left out.
javascript_files() {
  (cd "$1" && find . -name '*.js' ! -name '*.spec.js' ! -path './testdata/*' | sort)
}

# Compiles one package's ES modules for a target into a directory laid out as dist/esm is,
# with the project file its own build:esm script uses.
compile() {
  local package=$1 target=$2 out=$3 project=tsconfig.json
  [ -f "$checkout/packages/$package/tsconfig.build.json" ] && project=tsconfig.build.json
  # Type errors (a newer @types/node, say) do not stop tsc emitting. Whether a build is sound
  # is decided by comparing its files with the registry's, below.
  (cd "$checkout/packages/$package" &&
    "$tsc" -p "$project" --target "$target" --declaration false --outDir "$out") >"$work/tsc.log" 2>&1 || true
  if [ ! -d "$out" ]; then
    cat "$work/tsc.log" >&2
    echo "tsc emitted nothing for $package" >&2
    exit 1
  fi
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
  while IFS= read -r file; do
    if ! cmp -s "$published/$file" "$work/$package-es2017/$file"; then
      cat "$work/tsc.log" >&2
      echo "the checkout does not compile to the published @connectrpc/$package@$version: $file" >&2
      exit 1
    fi
  done < <(javascript_files "$published")

  compile "$package" es2018 "$work/$package-es2018"
  if ! diff <(javascript_files "$published") <(javascript_files "$work/$package-es2018"); then
    cat "$work/tsc.log" >&2
    echo "the ES2018 build of $package does not have the published package's files" >&2
    exit 1
  fi
  while IFS= read -r file; do
    cp "$work/$package-es2018/$file" "$published/$file"
  done < <(javascript_files "$published")

  # Reproducible, as npm pack's own tarballs are: the same input gives the same integrity.
  # Written aside first, so a failure never leaves a broken tarball in vendor/.
  tarball="connectrpc-$package-$version-es2018.tgz"
  tar --format=ustar --sort=name --mtime='1985-10-26 08:15:00Z' --owner=0 --group=0 --numeric-owner \
    --mode=u+rw,go+r,go-w -C "$work/$package" -cf - package | gzip -n -9 >"$work/$tarball"
  mv "$work/$tarball" "vendor/$tarball"
  echo "  vendor/$tarball"
  # npm neither checks a local tarball against the lockfile nor updates the integrity it wrote
  # for one, so a rebuild at the same path records its own; test/rpc/connect-build.test.ts
  # checks it. A new path (another version) gets its entry from npm install.
  node -e '
    const { createHash } = require("node:crypto");
    const { readFileSync, writeFileSync } = require("node:fs");
    const [name, path] = process.argv.slice(1);
    const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
    const entry = lock.packages[`node_modules/${name}`];
    if (entry?.resolved !== `file:${path}`) process.exit(0);
    entry.integrity = `sha512-${createHash("sha512").update(readFileSync(path)).digest("base64")}`;
    writeFileSync("package-lock.json", `${JSON.stringify(lock, null, 2)}\n`);
  ' "@connectrpc/$package" "vendor/$tarball"
done
