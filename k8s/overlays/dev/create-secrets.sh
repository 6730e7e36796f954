#!/bin/sh
# Creates the Secrets the dev overlay reads, with fresh random values, in the namespace
# agentos-ssot-dev (or $NAMESPACE). Secrets that exist are left alone: the in-cluster PostgreSQL
# was initialised with the password they hold. With --dry-run, prints them as YAML instead
# (nothing is sent to a cluster; the test suite reads that output).
#
#   k8s/overlays/dev/create-secrets.sh && kubectl apply -k k8s/overlays/dev
set -eu
namespace=${NAMESPACE:-agentos-ssot-dev}
dry_run=false
[ "${1:-}" = "--dry-run" ] && dry_run=true

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

secret() { # name key=value…
  name=$1; shift
  if [ "$dry_run" = false ] && kubectl -n "$namespace" get secret "$name" >/dev/null 2>&1; then
    echo "secret/$name exists: kept" >&2
    return
  fi
  args=""
  for pair in "$@"; do args="$args --from-literal=$pair"; done
  # shellcheck disable=SC2086 # the pairs hold no spaces
  if [ "$dry_run" = true ]; then
    echo "---"
    kubectl create secret generic "$name" -n "$namespace" $args --dry-run=client -o yaml
  else
    kubectl create secret generic "$name" -n "$namespace" $args
  fi
}

[ "$dry_run" = true ] || kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace"
password=$(random_hex 24)
token="ingest-$(random_hex 24)"
secret ssot-dev-postgres "password=$password"
secret ssot-database "url=postgresql://ssot:$password@postgres:5432/ssot"
# The in-cluster Redis has no password: KEDA's TriggerAuthentication reads an empty one.
secret ssot-redis "url=redis://redis:6379" "password="
secret ssot-auth "jwt-secret=$(random_hex 32)"
secret ssot-ingest "tokens=$token"
secret ssot-ingest-client "token=$token"
