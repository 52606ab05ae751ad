#!/bin/sh
# The image's entry point: runs a deployable by name, or any other command as given.
#   api | payment-gateway | worker | migrate   node dist/src/bin/<name>.js
#   email-jobs list | email-jobs retry ID…     the admin command for failed email jobs
#   healthcheck [PORT]                         grpc.health.v1 check of a process in this container
set -eu
case "${1:-}" in
  api | payment-gateway | worker | migrate | email-jobs | healthcheck)
    deployable=$1
    shift
    exec node "/app/dist/src/bin/$deployable.js" "$@"
    ;;
esac
exec "$@"
