#!/bin/sh
# Roll out a new image: migrations first (a Job, expand-only so the running version keeps
# working), then the API, worker and backup CronJob; wait until the API has rolled out.
#
#   deploy/k8s/rollout.sh ghcr.io/fairtradeworker/ftw:0.2.0
#
# A failed migration stops here with the old version still serving. Roll back the code
# with `kubectl -n ftw rollout undo deployment/ftw-api` (never `alembic downgrade`).
set -eu
image="${1:?usage: rollout.sh IMAGE}"
here="$(cd "$(dirname "$0")" && pwd)"
ns=ftw

kubectl -n "$ns" delete job ftw-migrate --ignore-not-found --wait=true
sed "s|image: ghcr.io/fairtradeworker/ftw:.*|image: $image|" "$here/migrate-job.yaml" | kubectl apply -f -
if ! kubectl -n "$ns" wait --for=condition=complete --timeout=30m job/ftw-migrate; then
  kubectl -n "$ns" logs job/ftw-migrate --tail=100 || true
  echo "migration failed: nothing else was changed" >&2
  exit 1
fi

# Everything in kustomization.yaml, with the new image, in one apply (one rollout).
kubectl kustomize "$here" | sed "s|image: ghcr.io/fairtradeworker/ftw:.*|image: $image|" | kubectl apply -f -
kubectl -n "$ns" rollout status deployment/ftw-api --timeout=30m
kubectl -n "$ns" rollout status deployment/ftw-worker --timeout=15m
