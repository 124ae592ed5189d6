#!/bin/sh
# The container's entrypoint: the first argument is the role, the rest are that command's own options.
#
#   serve MODEL...   shipyard serve: inference on :8080 (/health/ready is the readiness probe)
#   server           shipyard server: the control plane on :5000 (auth is on off loopback)
#   scheduler        shipyard scheduler: runs the schedules (one replica)
#   anything else    passed to shipyard as it is: `users add alice --role admin`, `models list`, `--help`
#
# A server in a container must listen beyond its loopback, so serve and server get --host 0.0.0.0 first;
# a --host given after the role still wins (the last one counts). Settings come from SHIPYARD_*
# variables (docs/configuration.md). exec: shipyard becomes process 1 and receives SIGTERM itself, so it
# drains in-flight requests before the container stops.
set -eu

if [ "$#" -eq 0 ]; then
    exec shipyard --help
fi

role="$1"
shift
case "$role" in
    serve | server)
        exec shipyard "$role" --host 0.0.0.0 "$@"
        ;;
    *)
        exec shipyard "$role" "$@"
        ;;
esac
