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
{{- printf "%s:%s" $repo $tag -}}
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
