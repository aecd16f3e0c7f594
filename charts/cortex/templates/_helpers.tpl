{{/* Names and labels, as `helm create` writes them. */}}
{{- define "cortex.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cortex.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cortex.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cortex.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cortex.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "cortex.labels" -}}
helm.sh/chart: {{ include "cortex.chart" . }}
{{ include "cortex.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cortex
{{- end }}

{{- define "cortex.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cortex.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: with serviceAccount.create=false, name the existing ServiceAccount the operator runs as" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The ConfigMap of the node pools (the operator's --node-pools-configmap). */}}
{{- define "cortex.nodePoolsConfigMap" -}}
{{- printf "%s-node-pools" (include "cortex.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Service the metrics API's APIServices point at (metricsApiObjects' serviceName). */}}
{{- define "cortex.metricsApiService" -}}
{{- printf "%s-metrics-api" (include "cortex.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* true when the operator itself serves custom.metrics.k8s.io (and the chart registers it). */}}
{{- define "cortex.builtinMetricsApi" -}}
{{- if and .Values.metricsApi.enabled (eq .Values.metricsApi.provider "builtin") }}true{{ end }}
{{- end }}

{{/* Where the operator reads metricsApi.tls.secretName's certificate. */}}
{{- define "cortex.metricsApiTlsDir" -}}
/etc/cortex/metrics-api-tls
{{- end }}

{{- define "cortex.operatorImage" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "cortex.runtimeImage" -}}
{{- printf "%s:%s" .Values.runtimeImage.repository (default .Chart.AppVersion .Values.runtimeImage.tag) }}
{{- end }}

{{- define "cortex.gpuRuntimeImage" -}}
{{- printf "%s:%s" .Values.runtimeImage.repository (default (printf "%s-gpu" .Chart.AppVersion) .Values.runtimeImage.gpuTag) }}
{{- end }}

{{/*
What values.schema.json cannot say: pool names are unique (the operator refuses the whole
list otherwise, and every API would be "compute unavailable"); metricsApi.tls's secretName and
caBundle come together.
*/}}
{{/* The Redis of queue.install (templates/queue.yaml): its own component, not the operator's selector. */}}
{{- define "cortex.queueLabels" -}}
app.kubernetes.io/name: {{ include "cortex.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: queue
{{- end }}

{{/* The queue's URL the operator gets (queue.url, or the Redis of queue.install); empty: none. */}}
{{- define "cortex.queueUrl" -}}
{{- if .Values.queue.install -}}
redis://{{ include "cortex.fullname" . }}-queue.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}:6379
{{- else -}}
{{ .Values.queue.url }}
{{- end -}}
{{- end }}

{{- define "cortex.validate" -}}
{{- if and .Values.queue.install .Values.queue.url }}
{{- fail "queue: set either queue.url (an existing Redis) or queue.install=true (the chart runs one), not both" }}
{{- end }}
{{- $seen := dict }}
{{- range $i, $pool := .Values.nodePools }}
{{- if hasKey $seen $pool.name }}
{{- fail (printf "nodePools[%d]: pool %q is listed twice (nodePools[%d] has the same name); give each pool its own name" $i $pool.name (get $seen $pool.name)) }}
{{- end }}
{{- $_ := set $seen $pool.name $i }}
{{- end }}
{{- /* a certificate the API server cannot verify, or a CA with no certificate to verify */}}
{{- $tls := .Values.metricsApi.tls }}
{{- if and (include "cortex.builtinMetricsApi" .) (ne (empty $tls.secretName) (empty $tls.caBundle)) }}
{{- if $tls.secretName }}
{{- fail (printf "metricsApi.tls.caBundle: with metricsApi.tls.secretName=%s, give the PEM CA that signed its certificate (the APIServices verify the operator with it), or leave secretName empty for a self-signed certificate" $tls.secretName) }}
{{- else }}
{{- fail "metricsApi.tls.secretName: metricsApi.tls.caBundle is set but no Secret holds the certificate it signed; name the kubernetes.io/tls Secret (tls.crt, tls.key) in the release namespace, or leave caBundle empty" }}
{{- end }}
{{- end }}
{{- end }}
