# The instances of the services, for scripts/stack. Sourced, never run.
#
# The services keep no state, so several copies of each may run:
# IP_METADATA_INSTANCES, IP_STORAGE_INSTANCES, IP_PROCESSOR_INSTANCES and
# IP_GATEWAY_INSTANCES (default 1). Instance 1 is the service itself (its
# pid file and log named for it, the configured addresses); instance k > 1 is
# "<service>-<k>" and listens on each configured port plus 10*(k-1). Every
# client of a service is given the comma list of all its instances.
#
# inst_parse sets INST_SVC and INST_K from an instance name; inst_env fills
# INST_ENV with the VAR=value settings an instance runs with (its own
# addresses, and the lists of the services it calls); inst_list gives a
# client's list; inst_running names the instances that have a pid file.
# Needs lib/common.sh (ip_die, IP_VAR_DIR) and the IP_* settings loaded.

# svc_count SERVICE: how many instances of it to run.
svc_count() {
  case "$1" in
    metadata-svc) echo "${IP_METADATA_INSTANCES:-1}" ;;
    storage-svc) echo "${IP_STORAGE_INSTANCES:-1}" ;;
    processor) echo "${IP_PROCESSOR_INSTANCES:-1}" ;;
    gateway) echo "${IP_GATEWAY_INSTANCES:-1}" ;;
  esac
}

# check_instances: every count is 1..9, and a service with several copies
# has a single base address to count its ports from.
check_instances() {
  local svc n var
  for svc in metadata-svc storage-svc processor gateway; do
    n="$(svc_count "$svc")"
    var="IP_$(tr 'a-z-' 'A-Z_' <<<"${svc%-svc}")_INSTANCES"
    [[ $n =~ ^[1-9]$ ]] || ip_die "$var=$n: must be a number from 1 to 9"
  done
  local base
  for base in "metadata-svc:$IP_METADATA_RPC_URL" "metadata-svc:$IP_METADATA_EVENTS_URL" \
    "storage-svc:$IP_STORAGE_RPC_URL" "gateway:$IP_GATEWAY_LISTEN" "processor:$IP_PROCESSOR_METRICS_LISTEN"; do
    svc="${base%%:*}"
    base="${base#*:}"
    if (($(svc_count "$svc") > 1)) && [[ ! $base =~ ^[^,]*:[0-9]+/?$ ]]; then
      ip_die "$svc: several instances need one base address ending in a port, not \"$base\""
    fi
  done
}

inst_name() { if (($2 == 1)); then echo "$1"; else echo "$1-$2"; fi; }

inst_parse() {
  INST_SVC="$1"
  INST_K=1
  if [[ $1 =~ ^(metadata-svc|storage-svc|processor|gateway)-([0-9]+)$ ]]; then
    INST_SVC="${BASH_REMATCH[1]}"
    INST_K="${BASH_REMATCH[2]}"
  fi
}

# inst_addr ADDR K: ADDR ("tcp://h:p" or "h:p") with its port moved up by
# 10*(K-1); ADDR itself for K = 1.
inst_addr() {
  local a="${1%/}" k="$2"
  if ((k == 1)); then
    echo "$1"
    return
  fi
  [[ $a =~ ^(.*):([0-9]+)$ ]] || ip_die "no port in $1"
  echo "${BASH_REMATCH[1]}:$((BASH_REMATCH[2] + 10 * (k - 1)))"
}

# inst_list ADDR SERVICE: the comma list of ADDR for every instance of SERVICE.
inst_list() {
  local n k out=""
  n="$(svc_count "$2")"
  for ((k = 1; k <= n; k++)); do out+="${out:+,}$(inst_addr "$1" "$k")"; done
  echo "$out"
}

inst_env() {
  local k="$2"
  case "$1" in
    metadata-svc)
      INST_ENV=("IP_METADATA_RPC_URL=$(inst_addr "$IP_METADATA_RPC_URL" "$k")"
        "IP_METADATA_EVENTS_URL=$(inst_addr "$IP_METADATA_EVENTS_URL" "$k")") ;;
    storage-svc)
      INST_ENV=("IP_STORAGE_RPC_URL=$(inst_addr "$IP_STORAGE_RPC_URL" "$k")") ;;
    processor)
      INST_ENV=("IP_PROCESSOR_METRICS_LISTEN=$(inst_addr "$IP_PROCESSOR_METRICS_LISTEN" "$k")"
        "IP_METADATA_RPC_URL=$(inst_list "$IP_METADATA_RPC_URL" metadata-svc)"
        "IP_STORAGE_RPC_URL=$(inst_list "$IP_STORAGE_RPC_URL" storage-svc)") ;;
    gateway)
      INST_ENV=("IP_GATEWAY_LISTEN=$(inst_addr "$IP_GATEWAY_LISTEN" "$k")"
        "IP_METADATA_RPC_URL=$(inst_list "$IP_METADATA_RPC_URL" metadata-svc)"
        "IP_METADATA_EVENTS_URL=$(inst_list "$IP_METADATA_EVENTS_URL" metadata-svc)"
        "IP_STORAGE_RPC_URL=$(inst_list "$IP_STORAGE_RPC_URL" storage-svc)") ;;
  esac
}

# inst_running SERVICE: the names of its instances that have a pid file,
# highest k first (the order stop takes them in).
inst_running() {
  local f k ks=()
  for f in "$IP_VAR_DIR/run/$1"-*.pid; do
    k="$(basename "$f" .pid)"
    k="${k#"$1"-}"
    [[ -f $f && $k =~ ^[0-9]+$ ]] && ks+=("$k")
  done
  if ((${#ks[@]})); then
    printf '%s\n' "${ks[@]}" | sort -rn | while read -r k; do echo "$1-$k"; done
  fi
  [[ -f $IP_VAR_DIR/run/$1.pid ]] && echo "$1"
  return 0
}
