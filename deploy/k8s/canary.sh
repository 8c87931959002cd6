#!/bin/sh
# Canary release of the API: pods of IMAGE (Deployment ftw-api-canary, track=canary) next to
# the stable ones (ftw-api, track=stable) behind the one ftw-api Service, which splits the
# traffic by pod count. Steps of 5, 25 and 50 % of the pods, a pause at each, then 100 %: the
# stable Deployment, the worker and the backup CronJob take the image and the canary goes.
# After each pause Prometheus judges the canary's own series (the pod label `track`, kept by
# the scrape's labelmap): 5xx ratio and p95 over the window. Past either limit, or a canary
# that does not become ready, it rolls back by itself (exit 1) and the stable pods serve on.
#
#   deploy/k8s/canary.sh ghcr.io/fairtradeworker/ftw:0.2.0
#
# Settings (environment): PROMETHEUS_URL (http://prometheus.monitoring:9090), CANARY_STEPS
# ("5 25 50"), CANARY_PAUSE_S (300), CANARY_WINDOW (5m), CANARY_MAX_ERROR_RATIO (0.01),
# CANARY_MAX_P95_S (0.8), CANARY_SMOKE_URL (run `ftw smoke` against it after every step).
# Needs kubectl, curl and python3. The schema is expand-only, so both versions run at once.
set -eu
image="${1:?usage: canary.sh IMAGE}"
here="$(cd "$(dirname "$0")" && pwd)"
ns="${FTW_NAMESPACE:-ftw}"
prometheus="${PROMETHEUS_URL:-http://prometheus.monitoring:9090}"
steps="${CANARY_STEPS:-5 25 50}"
pause_s="${CANARY_PAUSE_S:-300}"
window="${CANARY_WINDOW:-5m}"
max_error_ratio="${CANARY_MAX_ERROR_RATIO:-0.01}"
max_p95_s="${CANARY_MAX_P95_S:-0.8}"
smoke_url="${CANARY_SMOKE_URL:-}"

# The Deployment of api.yaml (its first document) as the canary: its own name and track,
# the new image, no pods until the first step.
canary_manifest() {
  awk -v image="$image" '
    /^---/ { exit }
    /^  name: ftw-api$/ { print "  name: ftw-api-canary"; next }
    /^spec:$/ { print; print "  replicas: 0"; next }
    /image: ghcr.io\/fairtradeworker\/ftw:/ { sub(/ghcr.io\/fairtradeworker\/ftw:.*/, image) }
    { gsub(/track: stable/, "track: canary"); print }
  ' "$here/api.yaml"
}

# One instant query's value ("none" without a series).
query() {
  curl -fsS --max-time 10 --get --data-urlencode "query=$1" "$prometheus/api/v1/query" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}

above() { awk -v value="$1" -v limit="$2" 'BEGIN { exit !(value + 0 > limit + 0) }'; }

# The 5xx ratio and p95 of one track's requests over the window, against the limits.
healthy() {
  track="track=\"$1\""
  errors="$(query "(sum(rate(http_requests_total{$track,status=~\"5..\"}[$window])) or vector(0)) / sum(rate(http_requests_total{$track}[$window]))")"
  p95="$(query "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$track}[$window])))")"
  echo "$1: 5xx ratio $errors (limit $max_error_ratio), p95 $p95 s (limit $max_p95_s s)"
  case "$errors $p95" in
    *none* | *NaN*) echo "$1: no requests measured: cannot vouch for it" >&2; return 1 ;;
  esac
  if above "$errors" "$max_error_ratio" || above "$p95" "$max_p95_s"; then
    return 1
  fi
  if [ -n "$smoke_url" ] && ! ftw smoke "$smoke_url"; then
    return 1
  fi
}

rollback() {
  echo "canary failed: removing it; the stable version serves every request" >&2
  kubectl -n "$ns" scale deployment/ftw-api-canary --replicas=0
  kubectl -n "$ns" delete deployment ftw-api-canary --ignore-not-found
  exit 1
}

"$here/migrate.sh" "$image"
canary_manifest | kubectl apply -f -
for percent in $steps; do
  stable="$(kubectl -n "$ns" get deployment ftw-api -o jsonpath='{.spec.replicas}')"
  # Canary pods for `percent` % of all: ceil(stable * percent / (100 - percent)), at least 1.
  pods=$(( (stable * percent + 99 - percent) / (100 - percent) ))
  [ "$pods" -ge 1 ] || pods=1
  echo "step $percent %: $pods canary pods next to $stable stable ones; watching for $pause_s s"
  kubectl -n "$ns" scale deployment/ftw-api-canary --replicas="$pods"
  kubectl -n "$ns" rollout status deployment/ftw-api-canary --timeout=10m || rollback
  sleep "$pause_s"
  healthy canary || rollback
done

echo "step 100 %: the stable pods take $image"
kubectl -n "$ns" set image deployment/ftw-api api="$image"
if ! kubectl -n "$ns" rollout status deployment/ftw-api --timeout=30m; then
  kubectl -n "$ns" rollout undo deployment/ftw-api
  rollback
fi
kubectl -n "$ns" delete deployment ftw-api-canary --ignore-not-found
kubectl -n "$ns" set image deployment/ftw-worker worker="$image"
kubectl -n "$ns" set image cronjob/ftw-backup backup="$image"
sleep "$pause_s"
if ! healthy stable; then
  echo "the promoted version fails: back to the previous one" >&2
  kubectl -n "$ns" rollout undo deployment/ftw-api
  kubectl -n "$ns" rollout undo deployment/ftw-worker
  exit 1
fi
echo "released $image"
