# shellcheck shell=bash
# Progress lines and failures, prefixed with the script's name. Sourced by the scripts beside it.

say() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*"; }

fail() {
  say "FAILED: $*" >&2
  exit 1
}
