#!/bin/sh
# Run the migrations of IMAGE as a Job and wait for it (rollout.sh and canary.sh start here).
# Migrations are expand-only, so the running version keeps working on the new schema.
#
#   deploy/k8s/migrate.sh ghcr.io/fairtradeworker/ftw:0.2.0
set -eu
image="${1:?usage: migrate.sh IMAGE}"
here="$(cd "$(dirname "$0")" && pwd)"
ns="${FTW_NAMESPACE:-ftw}"

kubectl -n "$ns" delete job ftw-migrate --ignore-not-found --wait=true
sed "s|image: ghcr.io/fairtradeworker/ftw:.*|image: $image|" "$here/migrate-job.yaml" | kubectl apply -f -
if ! kubectl -n "$ns" wait --for=condition=complete --timeout=30m job/ftw-migrate; then
  kubectl -n "$ns" logs job/ftw-migrate --tail=100 || true
  echo "migration failed: nothing else was changed" >&2
  exit 1
fi
