#!/usr/bin/env bash
# `buf breaking` against an earlier commit (default: the previous one). The Buf Schema
# Registry is out of reach and our proto dependencies live in node_modules, so the earlier
# contracts are built from a temporary worktree that borrows today's node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-HEAD~1}

if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null || ! git cat-file -e "$base:proto" 2>/dev/null; then
  echo "breaking: no contracts at $base to compare with"
  exit 0
fi
worktree=$(mktemp -d)
trap 'git worktree remove --force "$worktree" >/dev/null 2>&1 || rm -rf "$worktree"' EXIT
git worktree add --quiet --detach "$worktree" "$base"
ln -s "$PWD/node_modules" "$worktree/node_modules"
(cd "$worktree" && npx --no-install buf build proto -o "$worktree/base.binpb")
npx --no-install buf breaking proto --against "$worktree/base.binpb"
echo "breaking: no breaking changes since $(git rev-parse --short "$base")"
