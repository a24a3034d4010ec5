#!/bin/sh
# The bundled database's nightly backup, in two steps (RESTORE.md reads them back):
#   backup.sh dump    pg_dump (custom format) of $PGDATABASE to $BACKUP_DIR
#                     with its SHA-256, checked readable; dumps older than
#                     $RETENTION_DAYS (7) are pruned from the volume
#   backup.sh upload  the newest dump and its checksum to
#                     s3://$S3_BUCKET/$S3_PREFIX/ (any S3-compatible storage:
#                     $S3_ENDPOINT), then compares the stored size; a no-op
#                     without S3_BUCKET. Retention there is the bucket's
#                     lifecycle rule.
# libpq reads PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE; the AWS CLI
# reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION.
set -eu
dir="${BACKUP_DIR:-/backups}"

case "${1:-}" in
dump)
  name="ai_imutis-$(date -u +%Y%m%dT%H%M%SZ).dump"
  pg_dump --format=custom --file="$dir/$name.partial"
  pg_restore --list "$dir/$name.partial" >/dev/null
  mv "$dir/$name.partial" "$dir/$name"
  (cd "$dir" && sha256sum "$name" >"$name.sha256")
  find "$dir" -name 'ai_imutis-*.dump*' -mtime +"${RETENTION_DAYS:-7}" -delete
  ls -l "$dir"
  ;;
upload)
  if [ -z "${S3_BUCKET:-}" ]; then
    echo "S3_BUCKET is not set: the dump stays on the volume only"
    exit 0
  fi
  file=""
  for f in "$dir"/ai_imutis-*.dump; do [ -f "$f" ] && file="$f"; done
  [ -n "$file" ] || { echo "no dump in $dir" >&2; exit 1; }
  name=$(basename "$file")
  key="${S3_PREFIX:+$S3_PREFIX/}$name"
  dest="s3://$S3_BUCKET/$key"
  if [ -n "${S3_ENDPOINT:-}" ]; then set -- --endpoint-url "$S3_ENDPOINT"; else set --; fi
  aws "$@" s3 cp --only-show-errors "$file.sha256" "$dest.sha256"
  aws "$@" s3 cp --only-show-errors "$file" "$dest"
  stored=$(aws "$@" s3api head-object --bucket "$S3_BUCKET" --key "$key" \
    --query ContentLength --output text)
  local_size=$(wc -c <"$file" | tr -d ' ')
  if [ "$stored" != "$local_size" ]; then
    echo "upload of $name: $stored bytes stored, $local_size expected" >&2
    exit 1
  fi
  echo "uploaded $dest ($stored bytes)"
  ;;
*)
  echo "usage: backup.sh dump|upload" >&2
  exit 2
  ;;
esac
