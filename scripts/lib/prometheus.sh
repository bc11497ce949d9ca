# The `prometheus` component of scripts/stack: Debian's Prometheus scraping
# every service of the native stack, with the project's alert rules, and the
# Kafka exporter the lag and DLQ alerts read. Sourced by scripts/stack (after
# common.sh and instances.sh), never run.
#
# It is started only when named (`scripts/stack start prometheus`) or when
# IP_STACK_PROMETHEUS=true makes a plain `scripts/stack start` include it: the
# test runs need it only for the tests that look at it, and a JVM (the
# exporter) and Prometheus are not free on a small machine. `scripts/stack
# stop` stops it whenever it runs.
#
# Two processes, each with its pid file and log like every component:
#   kafka-exporter  deploy/prometheus/kafka-exporter/KafkaLagExporter.java run
#                   from source by the JDK against the broker's own client
#                   jars, on IP_KAFKA_EXPORTER_LISTEN (default 127.0.0.1:9308)
#   prometheus      on IP_PROMETHEUS_LISTEN (default 127.0.0.1:9095, not 9090,
#                   where Debian's packaged service listens under systemd), data in
#                   $IP_VAR_DIR/prometheus/data (kept 2 days), scraping every
#                   IP_PROMETHEUS_SCRAPE_INTERVAL (default 5s)
# The configuration is rendered at each start into
# $IP_VAR_DIR/prometheus/prometheus.yml: one job per service that serves
# metrics — imageprocessor-gateway (every gateway instance's /metrics),
# imageprocessor-processor (every processor's metrics address) — plus
# imageprocessor-kafka (the exporter) and prometheus itself. metadata-svc and
# storage-svc serve no metrics endpoint: their health shows in their callers'
# ip_rpc_client_calls_total. The rule file is the chart's
# (deploy/helm/imageprocessor/files/alerts.yml), loaded where it lies.

: "${IP_PROMETHEUS_LISTEN:=127.0.0.1:9095}"
: "${IP_KAFKA_EXPORTER_LISTEN:=127.0.0.1:9308}"
: "${IP_PROMETHEUS_SCRAPE_INTERVAL:=5s}"
PROMETHEUS_RULES="$IP_ROOT/deploy/helm/imageprocessor/files/alerts.yml"
KAFKA_EXPORTER_SRC="$IP_ROOT/deploy/prometheus/kafka-exporter/KafkaLagExporter.java"

prometheus_ready() { curl -fsS -m 2 -o /dev/null "http://$IP_PROMETHEUS_LISTEN/-/ready"; }
kafka_exporter_ready() { curl -fsS -m 2 -o /dev/null "http://$IP_KAFKA_EXPORTER_LISTEN/healthz"; }

# The targets of one service's instances as a YAML flow list.
prometheus_targets() {
  local list t out=""
  IFS=',' read -ra list <<<"$(inst_list "$1" "$2")"
  for t in "${list[@]}"; do out+="${out:+, }'$t'"; done
  echo "[$out]"
}

render_prometheus() {
  local dir="$IP_VAR_DIR/prometheus"
  mkdir -p "$dir/data"
  cat >"$dir/prometheus.yml" <<EOF
# Rendered by scripts/stack (scripts/lib/prometheus.sh) at each start.
global:
  scrape_interval: $IP_PROMETHEUS_SCRAPE_INTERVAL
  evaluation_interval: $IP_PROMETHEUS_SCRAPE_INTERVAL
  scrape_timeout: 4s
rule_files:
  - '$PROMETHEUS_RULES'
scrape_configs:
  - job_name: imageprocessor-gateway
    static_configs:
      - targets: $(prometheus_targets "$IP_GATEWAY_LISTEN" gateway)
  - job_name: imageprocessor-processor
    static_configs:
      - targets: $(prometheus_targets "$IP_PROCESSOR_METRICS_LISTEN" processor)
  - job_name: imageprocessor-kafka
    scrape_timeout: 10s
    scrape_interval: 15s
    static_configs:
      - targets: ['$IP_KAFKA_EXPORTER_LISTEN']
  - job_name: prometheus
    static_configs:
      - targets: ['$IP_PROMETHEUS_LISTEN']
EOF
  promtool check config "$dir/prometheus.yml" >>"$(ip_logfile prometheus)" 2>&1 ||
    { tail -n 20 "$(ip_logfile prometheus)" >&2; ip_die "prometheus: the rendered configuration does not check"; }
}

start_kafka_exporter() {
  if ip_pid_alive kafka-exporter && kafka_exporter_ready; then
    ip_info "kafka-exporter: already up on $IP_KAFKA_EXPORTER_LISTEN"
    return
  fi
  [[ -d $KAFKA_DIR/lib ]] || ip_die "kafka jars missing in $KAFKA_DIR/lib: run scripts/deps"
  local dir="$IP_VAR_DIR/prometheus"
  mkdir -p "$dir"
  cat >"$dir/exporter-log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
EOF
  ip_port_free kafka-exporter "$IP_KAFKA_EXPORTER_LISTEN"
  ip_info "kafka-exporter: starting on $IP_KAFKA_EXPORTER_LISTEN"
  ip_spawn kafka-exporter java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$dir/exporter-log4j2.properties" \
    -cp "$KAFKA_DIR/lib/*" "$KAFKA_EXPORTER_SRC" "$IP_KAFKA_BROKERS" "$IP_KAFKA_EXPORTER_LISTEN"
  ip_wait_ready kafka-exporter 60 kafka_exporter_ready || ip_die "kafka-exporter did not start"
}

start_prometheus() {
  start_kafka_exporter
  command -v prometheus >/dev/null || ip_die "prometheus is not installed: run scripts/deps"
  render_prometheus
  if ip_pid_alive prometheus && prometheus_ready; then
    # Pick up changed targets or rules without a restart.
    kill -HUP "$(<"$(ip_pidfile prometheus)")"
    ip_info "prometheus: already up on $IP_PROMETHEUS_LISTEN (configuration reloaded)"
    return
  fi
  ip_port_free prometheus "$IP_PROMETHEUS_LISTEN"
  ip_info "prometheus: starting on $IP_PROMETHEUS_LISTEN"
  ip_spawn prometheus prometheus --config.file="$IP_VAR_DIR/prometheus/prometheus.yml" \
    --storage.tsdb.path="$IP_VAR_DIR/prometheus/data" --storage.tsdb.retention.time=2d \
    --web.listen-address="$IP_PROMETHEUS_LISTEN"
  ip_wait_ready prometheus 60 prometheus_ready || ip_die "prometheus did not start"
}

stop_prometheus() {
  ip_stop_pid prometheus TERM 30
  ip_stop_pid kafka-exporter TERM 20
}

# Whether a plain `scripts/stack start` includes it.
prometheus_wanted() { [[ ${IP_STACK_PROMETHEUS:-false} == true ]]; }
prometheus_running() { ip_pid_alive prometheus || ip_pid_alive kafka-exporter; }
