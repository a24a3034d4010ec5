{{/* Labels every object carries. */}}
{{- define "ai-imutis.labels" -}}
app.kubernetes.io/part-of: ai-imutis
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
{{- end }}

{{/* The image of a function: dict "root" $ "name" $name "fn" $fn. */}}
{{- define "ai-imutis.functionImage" -}}
{{- $img := .fn.image | default dict -}}
{{- $repo := $img.repository | default (printf "%s/%s%s" .root.Values.image.registry .root.Values.image.prefix .name) -}}
{{- $tag := $img.tag | default .root.Values.image.tag -}}
{{- with $img.digest -}}
{{- printf "%s@%s" $repo . -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end }}

{{/* Hash of the functions' ConfigMap: a change rolls out a new revision. */}}
{{- define "ai-imutis.configChecksum" -}}
{{- include (print .Template.BasePath "/configmap.yaml") . | sha256sum -}}
{{- end }}

{{/* Hash of the functions' Secret: the live Secret's data where Helm can read
     it (install/upgrade), the values when the chart creates it, and
     secrets.version, which an operator bumps after rotating a Secret kept
     outside the chart when lookup is unavailable (helm template, Argo CD). */}}
{{- define "ai-imutis.secretsChecksum" -}}
{{- $live := (lookup "v1" "Secret" .Release.Namespace .Values.secrets.name).data | default dict -}}
{{- $created := ternary (omit .Values.secrets "name" "create" "version") (dict) (eq .Values.secrets.create true) -}}
{{- list (toJson $live) (toJson $created) (toString .Values.secrets.version) | join "/" | sha256sum -}}
{{- end }}

{{/* Container securityContext of our own (distroless, non-root) images. */}}
{{- define "ai-imutis.restrictedContainer" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - "ALL"
seccompProfile:
  type: "RuntimeDefault"
{{- end }}

{{/* The database host PgBouncer connects to. */}}
{{- define "ai-imutis.pgbouncerDatabaseHost" -}}
{{- if .Values.pgbouncer.databaseHost -}}
{{- .Values.pgbouncer.databaseHost -}}
{{- else if .Values.postgresql.enabled -}}
{{- printf "postgres.%s.svc.cluster.local" .Release.Namespace -}}
{{- else -}}
{{- fail "pgbouncer.databaseHost is required with postgresql.enabled=false (or set pgbouncer.enabled=false)" -}}
{{- end -}}
{{- end }}

{{/* pgbouncer.ini: the same settings as knative/platform/pgbouncer/pgbouncer.ini
     (scripts/validate-deploy compares them), from the pgbouncer.* values. */}}
{{- define "ai-imutis.pgbouncerIni" -}}
[databases]
* = host={{ include "ai-imutis.pgbouncerDatabaseHost" . }} port={{ int .Values.postgresql.port }}

[pgbouncer]
listen_addr = *
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = /run/pgbouncer/userlist.txt
pool_mode = {{ .Values.pgbouncer.poolMode }}
max_client_conn = {{ int .Values.pgbouncer.maxClientConn }}
default_pool_size = {{ int .Values.pgbouncer.defaultPoolSize }}
reserve_pool_size = {{ int .Values.pgbouncer.reservePoolSize }}
reserve_pool_timeout = 3
max_db_connections = {{ int .Values.pgbouncer.maxDbConnections }}
max_prepared_statements = {{ int .Values.pgbouncer.maxPreparedStatements }}
ignore_startup_parameters = extra_float_digits
server_lifetime = 3600
server_idle_timeout = 600
query_wait_timeout = 30
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
stats_period = 60
{{- end }}

{{/* The functions' worst case of database connections:
     sum(functions.*.maxScale) x config.DB_MAX_CONNECTIONS. */}}
{{- define "ai-imutis.sumMaxScale" -}}
{{- $sum := 0 -}}
{{- range $name, $fn := .Values.functions }}{{ $sum = add $sum (int $fn.maxScale) }}{{ end -}}
{{- $sum -}}
{{- end }}

{{/* A CPU quantity in millicores ("100m" -> 100, "1.5" -> 1500). */}}
{{- define "ai-imutis.milli" -}}
{{- $q := toString . -}}
{{- if hasSuffix "m" $q -}}{{ trimSuffix "m" $q | int }}{{- else -}}{{ mulf (float64 $q) 1000 | ceil | int }}{{- end -}}
{{- end }}

{{/* A memory or storage quantity in MiB, rounded up ("64Mi" -> 64, "1Gi" -> 1024). */}}
{{- define "ai-imutis.mebi" -}}
{{- $q := toString . -}}
{{- $units := dict "Ki" (divf 1 1024) "Mi" 1.0 "Gi" 1024.0 "Ti" 1048576.0 "k" (divf 1000 1048576) "M" (divf 1000000 1048576) "G" (divf 1000000000 1048576) "T" (divf 1000000000000 1048576) -}}
{{- $mi := divf (float64 (regexFind "^[0-9.]+" $q)) 1048576 -}}
{{- range $suffix, $f := $units }}{{ if hasSuffix $suffix $q }}{{ $mi = mulf (float64 (trimSuffix $suffix $q)) $f }}{{ end }}{{ end -}}
{{- ceil $mi | int -}}
{{- end }}
