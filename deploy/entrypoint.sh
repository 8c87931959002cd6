#!/bin/sh
# Container entry point: `api` (default), `worker`, `migrate`, or any other `ftw` command.
set -eu

# prometheus-client's multiprocess mode needs an empty folder shared by the server's workers.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

command="${1:-api}"
[ "$#" -gt 0 ] && shift

case "$command" in
  api)
    # One worker process per CPU this container may use; Kubernetes sets WEB_CONCURRENCY
    # from the CPU limit, because nproc sees the node's CPUs, not the cgroup quota.
    exec ftw serve --host 0.0.0.0 --port "${PORT:-8000}" --workers "${WEB_CONCURRENCY:-$(nproc)}" "$@"
    ;;
  *)
    # worker, migrate, backup, restore, doctor, ...
    exec ftw "$command" "$@"
    ;;
esac
