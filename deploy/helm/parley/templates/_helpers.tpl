{{/* Names, labels and the pieces every workload shares. */}}

{{- define "parley.name" -}}parley{{- end -}}

{{/* parley-<service>: Deployments, Services, ServiceAccounts... keep the names the
operators' runbooks and the old manifests used. */}}
{{- define "parley.fullname" -}}
{{- printf "parley-%s" . -}}
{{- end -}}

{{- define "parley.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: parley
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
{{- end -}}

{{- define "parley.labels" -}}
{{ include "parley.commonLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one service: (dict "root" $ "name" "gateway") */}}
{{- define "parley.selectorLabels" -}}
app.kubernetes.io/name: {{ include "parley.fullname" .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "parley.serviceLabels" -}}
{{ include "parley.commonLabels" .root }}
{{ include "parley.selectorLabels" . }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* <registry>/<prefix><service>:<tag>; a service's own imageTag wins (staged upgrades). */}}
{{- define "parley.image" -}}
{{- $img := .root.Values.image -}}
{{- $svc := index .root.Values.services .name | default dict -}}
{{- $tag := $svc.imageTag | default $img.tag | default .root.Chart.AppVersion -}}
{{- printf "%s/%s%s:%s" $img.registry $img.prefix .name $tag -}}
{{- end -}}

{{/* The pod-level securityContext of Pod Security "restricted". */}}
{{- define "parley.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsUser }}
fsGroup: {{ .Values.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The container-level securityContext of Pod Security "restricted". */}}
{{- define "parley.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsUser }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Where secrets are mounted, as files. */}}
{{- define "parley.secretsDir" -}}/var/run/secrets/parley{{- end -}}

{{- define "parley.kafkaUsesSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol -}}true{{- end -}}
{{- end -}}

{{- define "parley.kafkaUsesTls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") -}}true{{- end -}}
{{- end -}}

{{/* Checks values that would render a cluster that cannot work. */}}
{{- define "parley.validate" -}}
{{- $protocols := list "PLAINTEXT" "SSL" "SASL_PLAINTEXT" "SASL_SSL" -}}
{{- if not (has .Values.kafka.securityProtocol $protocols) -}}
{{- fail (printf "kafka.securityProtocol must be one of %s" (join ", " $protocols)) -}}
{{- end -}}
{{- if include "parley.kafkaUsesSasl" . -}}
{{- if not (has .Values.kafka.sasl.mechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512")) -}}
{{- fail "kafka.sasl.mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" -}}
{{- end -}}
{{- if or (not .Values.kafka.sasl.username) (not .Values.kafka.sasl.passwordSecret.name) -}}
{{- fail "SASL needs kafka.sasl.username and kafka.sasl.passwordSecret.name" -}}
{{- end -}}
{{- end -}}
{{- if not .Values.mongodb.uriSecret.name -}}
{{- fail "mongodb.uriSecret.name is required: the Secret holding the MongoDB URI" -}}
{{- end -}}
{{- if not (has .Values.topics.mode (list "job" "strimzi" "none")) -}}
{{- fail "topics.mode must be job, strimzi or none" -}}
{{- end -}}
{{- if and .Values.podDisruptionBudget.enabled (lt (int .Values.podDisruptionBudget.maxUnavailable) 1) -}}
{{- fail "podDisruptionBudget.maxUnavailable must be at least 1: 0 blocks every node drain" -}}
{{- end -}}
{{- range $name, $svc := .Values.services -}}
{{- if and $svc.keda $svc.keda.enabled $svc.autoscaling.enabled -}}
{{- fail (printf "services.%s: autoscaling (HPA) and keda cannot both be enabled: KEDA makes its own HPA" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Environment every service gets. */}}
{{- define "parley.commonEnv" -}}
{{- $dir := include "parley.secretsDir" . -}}
- name: MONGODB_URI_FILE
  value: {{ printf "%s/mongodb/uri" $dir | quote }}
{{- if include "parley.kafkaUsesSasl" . }}
- name: KAFKA_SASL_USERNAME
  value: {{ .Values.kafka.sasl.username | quote }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: {{ printf "%s/kafka/sasl-password" $dir | quote }}
{{- end }}
{{- if include "parley.kafkaUsesTls" . }}
{{- if .Values.kafka.tls.caSecret.name }}
- name: KAFKA_SSL_CAFILE
  value: {{ printf "%s/kafka/ca.crt" $dir | quote }}
{{- end }}
{{- if .Values.kafka.tls.clientCertSecret.name }}
- name: KAFKA_SSL_CERTFILE
  value: {{ printf "%s/kafka/client.crt" $dir | quote }}
- name: KAFKA_SSL_KEYFILE
  value: {{ printf "%s/kafka/client.key" $dir | quote }}
{{- end }}
{{- if .Values.kafka.tls.keyPasswordSecret.name }}
- name: KAFKA_SSL_KEY_PASSWORD_FILE
  value: {{ printf "%s/kafka/key-password" $dir | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The projected volume of every secret file a pod reads; (dict "root" $ "name" svc). */}}
{{- define "parley.secretsVolume" -}}
{{- $v := .root.Values -}}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ $v.mongodb.uriSecret.name }}
          items:
            - {key: {{ $v.mongodb.uriSecret.key | quote }}, path: mongodb/uri}
{{- with $v.mongodb.tls.caSecret }}{{ if .name }}
      - secret:
          name: {{ .name }}
          items:
            - {key: {{ .key | quote }}, path: mongodb/ca.crt}
{{- end }}{{ end }}
{{- if include "parley.kafkaUsesSasl" .root }}
      - secret:
          name: {{ $v.kafka.sasl.passwordSecret.name }}
          items:
            - {key: {{ $v.kafka.sasl.passwordSecret.key | quote }}, path: kafka/sasl-password}
{{- end }}
{{- if include "parley.kafkaUsesTls" .root }}
{{- with $v.kafka.tls.caSecret }}{{ if .name }}
      - secret:
          name: {{ .name }}
          items:
            - {key: {{ .key | quote }}, path: kafka/ca.crt}
{{- end }}{{ end }}
{{- with $v.kafka.tls.clientCertSecret }}{{ if .name }}
      - secret:
          name: {{ .name }}
          items:
            - {key: {{ .certKey | quote }}, path: kafka/client.crt}
            - {key: {{ .keyKey | quote }}, path: kafka/client.key}
{{- end }}{{ end }}
{{- with $v.kafka.tls.keyPasswordSecret }}{{ if .name }}
      - secret:
          name: {{ .name }}
          items:
            - {key: {{ .key | quote }}, path: kafka/key-password}
{{- end }}{{ end }}
{{- end }}
{{- if and (eq .name "ingest") $v.services.ingest.smtp.enabled $v.services.ingest.smtp.tlsSecret }}
      - secret:
          name: {{ $v.services.ingest.smtp.tlsSecret }}
          items:
            - {key: tls.crt, path: smtp/tls.crt}
            - {key: tls.key, path: smtp/tls.key}
{{- end }}
{{- end -}}

{{/* An env var from the application secret: (dict "root" $ "env" NAME "key" keyName "optional" bool) */}}
{{- define "parley.appSecretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.secrets.existingSecret }}
      key: {{ index .root.Values.secrets.keys .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}
