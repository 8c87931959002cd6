#!/bin/sh
# Roll out a new image at once: migrations first (migrate.sh), then the API, worker and
# backup CronJob; wait until the API has rolled out. canary.sh does it step by step instead.
#
#   deploy/k8s/rollout.sh ghcr.io/fairtradeworker/ftw:0.2.0
#
# A failed migration stops here with the old version still serving. Roll back the code
# with `kubectl -n ftw rollout undo deployment/ftw-api` (never `alembic downgrade`).
set -eu
image="${1:?usage: rollout.sh IMAGE}"
here="$(cd "$(dirname "$0")" && pwd)"
ns="${FTW_NAMESPACE:-ftw}"

"$here/migrate.sh" "$image"

# Everything in kustomization.yaml, with the new image, in one apply (one rollout).
kubectl kustomize "$here" | sed "s|image: ghcr.io/fairtradeworker/ftw:.*|image: $image|" | kubectl apply -f -
kubectl -n "$ns" rollout status deployment/ftw-api --timeout=30m
kubectl -n "$ns" rollout status deployment/ftw-worker --timeout=15m
