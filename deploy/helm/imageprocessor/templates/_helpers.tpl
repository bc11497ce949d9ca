{{/*
Names, labels and the pieces every workload shares. fullname is the release
name, with the chart's name appended unless the release name contains it.
*/}}
{{- define "ip.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ip.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels of one component: (dict "ctx" $ "component" "gateway") */}}
{{- define "ip.selector" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ip.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end -}}

{{- define "ip.secretName" -}}
{{- default (printf "%s-secrets" (include "ip.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{/* metadata-svc's pod addresses for port PORT: (dict "ctx" $ "port" 7101) */}}
{{- define "ip.metadataUrls" -}}
{{- $full := include "ip.fullname" .ctx -}}
{{- $urls := list -}}
{{- range $i := until (int .ctx.Values.metadata.replicas) -}}
{{- $urls = append $urls (printf "tcp://%s-metadata-%d.%s-metadata.%s.svc:%d" $full $i $full $.ctx.Release.Namespace (int $.port)) -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{/* The S3 endpoint as host:port (nginx's upstream). */}}
{{- define "ip.s3HostPort" -}}
{{- $u := urlParse .Values.s3.endpoint -}}
{{- if contains ":" $u.host -}}
{{- $u.host -}}
{{- else if eq $u.scheme "https" -}}
{{- printf "%s:443" $u.host -}}
{{- else -}}
{{- printf "%s:80" $u.host -}}
{{- end -}}
{{- end -}}

{{/* Pod-level settings shared by the four services. */}}
{{- define "ip.podCommon" -}}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .ctx.Values.podSecurityContext | nindent 2 }}
automountServiceAccountToken: false
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      medium: Memory
      sizeLimit: {{ .ctx.Values.tmpSizeLimit }}
{{- end -}}

{{/* Container-level settings shared by the four services. */}}
{{- define "ip.containerCommon" -}}
image: {{ include "ip.image" .ctx }}
imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .ctx.Values.securityContext | nindent 2 }}
envFrom:
  - configMapRef:
      name: {{ include "ip.fullname" .ctx }}-config
  - secretRef:
      name: {{ include "ip.secretName" .ctx }}
resources:
  {{- toYaml .values.resources | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{/* Checksums that roll the pods when the configuration changes. */}}
{{- define "ip.configChecksums" -}}
checksum/config: {{ include (print .Template.BasePath "/config.yaml") . | sha256sum }}
{{- end -}}
