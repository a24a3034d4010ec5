#!/usr/bin/env bash
# Deploys AI-IMUTIS to the current kubectl context.
#
#   knative/deploy.sh                          # platform, migrations, all functions
#   knative/deploy.sh travels-book cities-list # platform, migrations, two functions
#   knative/deploy.sh --migrate-only           # platform and migrations only
#
# Environment: REGISTRY (default ghcr.io/ai-imutis), TAG (default latest),
# MIGRATE_TAG (default TAG), SKIP_PLATFORM=1 / SKIP_MIGRATE=1 to skip those
# steps (CI deploys functions in parallel after one migration run),
# MIGRATE_TIMEOUT (default 600s).
# Secrets must exist first (see secrets.example.yaml). The routes' ReferenceGrant
# goes into the Knative local gateway's namespace (knative/edge.toml): the
# deploying identity needs to create it there.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
ns=ai-imutis
registry="${REGISTRY:-ghcr.io/ai-imutis}"
tag="${TAG:-latest}"

migrate_tag="${MIGRATE_TAG:-$tag}"
migrate_only=0
if [[ "${1:-}" == --migrate-only ]]; then
  migrate_only=1
  shift
fi

image_sed() {
  sed -e "s#ghcr.io/ai-imutis/ai-imutis-migrate:latest#${registry}/ai-imutis-migrate:${migrate_tag}#g" \
    -e "s#ghcr.io/ai-imutis/ai-imutis-\\([a-z0-9-]*\\):latest#${registry}/ai-imutis-\\1:${tag}#g"
}

for f in "$@"; do
  if [[ ! -f "$here/functions/$f.yaml" ]]; then
    echo "deploy.sh: no function named $f (see knative/functions/)" >&2
    exit 2
  fi
done

for s in ai-imutis-function-secrets ai-imutis-postgres ai-imutis-redis; do
  if ! kubectl -n "$ns" get secret "$s" >/dev/null 2>&1; then
    echo "deploy.sh: warning: secret $s missing (see knative/secrets.example.yaml)" >&2
  fi
done
if [[ -z "$(kubectl -n "$ns" get secret ai-imutis-function-secrets -o jsonpath='{.data.DATABASE_DIRECT_URL}' 2>/dev/null)" ]]; then
  echo "deploy.sh: warning: DATABASE_DIRECT_URL missing from ai-imutis-function-secrets: the migration Job will not start" >&2
fi

if [[ "${SKIP_PLATFORM:-0}" != 1 ]]; then
  echo "==> platform"
  # The role and migration Jobs are immutable: applied separately below.
  kubectl kustomize "$here/platform" | image_sed \
    | kubectl apply -f - -l 'ai-imutis.dev/run-once!=true'
  kubectl -n "$ns" rollout status statefulset/postgres --timeout=300s
  kubectl -n "$ns" rollout status deployment/pgbouncer --timeout=300s
  kubectl -n "$ns" rollout status statefulset/redis --timeout=300s
fi

if [[ "${SKIP_MIGRATE:-0}" != 1 ]]; then
  echo "==> database roles, then migrations (as the owner role)"
  kubectl -n "$ns" delete job ai-imutis-db-roles ai-imutis-migrate --ignore-not-found --wait=true
  kubectl kustomize "$here/platform" | image_sed \
    | kubectl apply -f - -l app.kubernetes.io/name=db-roles
  kubectl -n "$ns" wait --for=condition=complete job/ai-imutis-db-roles --timeout=300s
  kubectl kustomize "$here/platform" | image_sed \
    | kubectl apply -f - -l app.kubernetes.io/name=migrate
  kubectl -n "$ns" wait --for=condition=complete job/ai-imutis-migrate \
    --timeout="${MIGRATE_TIMEOUT:-600s}"
fi

if [[ "$migrate_only" == 1 ]]; then
  echo "migrated"
  exit 0
fi

if [[ $# -eq 0 ]]; then
  mapfile -t all < <(find "$here/functions" -name '*.yaml' -printf '%f\n' | sed 's#\.yaml$##' | sort)
  set -- "${all[@]}"
fi

# A changed Secret rolls out new revisions: its hash goes on every template
# (the ConfigMap's hash is already there, from xtask).
secrets_sum="$(kubectl -n "$ns" get secret ai-imutis-function-secrets -o jsonpath='{.data}' 2>/dev/null | sha256sum | cut -c1-64)"
echo "==> functions: $*"
for f in "$@"; do
  image_sed <"$here/functions/$f.yaml" | sed "s#\"set-by-deploy.sh\"#\"${secrets_sum}\"#" | kubectl apply -f -
done
for f in "$@"; do
  kubectl -n "$ns" wait --for=condition=Ready "ksvc/$f" --timeout=300s
done

echo "==> routes (HTTPRoutes to the Knative local gateway, and their ReferenceGrant)"
kubectl apply -f "$here/routes/httproutes.yaml" -f "$here/routes/referencegrant.yaml"
echo "deployed: $*"
