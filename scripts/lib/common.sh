# Shared functions for scripts/*: configuration, messages, pid files and
# readiness waits. Sourced, never run.
#
# Configuration: every setting is an IP_* variable. ip_load_env reads
# .env.example (the defaults) and then .env (the local overrides) from the
# repository root, but a variable already set in the environment wins over
# both, so `IP_VAR_DIR=var/test scripts/stack start` does what it says.
# Relative paths (IP_VAR_DIR, IP_BUILD_DIR) are taken from the repository
# root, so the scripts work from any current directory.
#
# Processes: each server or service runs detached (setsid, stdin from
# /dev/null, output appended to var/log/<name>.log) with its pid written to
# var/run/<name>.pid. Stopping goes by that pid file only, never by process
# name, so nothing outside the stack is touched.

IP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export IP_ROOT

ip_info() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
ip_warn() { printf '[%s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
ip_die() {
  printf '[%s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
  exit 1
}

# ip_load_env: defaults from .env.example, overrides from .env, environment
# first. Lines are KEY=VALUE (no quoting rules beyond stripping one pair of
# surrounding quotes); comments and blank lines are skipped.
ip_load_env() {
  local -A from_env=()
  local name
  for name in $(compgen -e); do
    from_env[$name]=1
  done
  local f line key val
  for f in "$IP_ROOT/.env.example" "$IP_ROOT/.env"; do
    [[ -f $f ]] || continue
    while IFS= read -r line || [[ -n $line ]]; do
      line="${line%$'\r'}"
      [[ $line =~ ^[[:space:]]*# || ! $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] && continue
      key="${BASH_REMATCH[1]}"
      val="${BASH_REMATCH[2]}"
      if [[ $val =~ ^\"(.*)\"$ || $val =~ ^\'(.*)\'$ ]]; then
        val="${BASH_REMATCH[1]}"
      fi
      [[ -n ${from_env[$key]:-} ]] && continue
      printf -v "$key" '%s' "$val"
      export "${key?}"
    done <"$f"
  done

  : "${IP_VAR_DIR:=var}"
  : "${IP_BUILD_DIR:=build/release}"
  : "${IP_TOOLS_DIR:=$IP_ROOT/var/tools}"
  [[ $IP_VAR_DIR == /* ]] || IP_VAR_DIR="$IP_ROOT/$IP_VAR_DIR"
  [[ $IP_BUILD_DIR == /* ]] || IP_BUILD_DIR="$IP_ROOT/$IP_BUILD_DIR"
  [[ $IP_TOOLS_DIR == /* ]] || IP_TOOLS_DIR="$IP_ROOT/$IP_TOOLS_DIR"
  : "${IP_PYTHON:=$IP_TOOLS_DIR/venv/bin/python}"
  : "${IP_SOURCE_DIR:=$IP_ROOT}"
  export IP_VAR_DIR IP_BUILD_DIR IP_TOOLS_DIR IP_PYTHON IP_SOURCE_DIR
  # Go and Java installed outside PATH on some machines.
  [[ -d /usr/local/go/bin ]] && PATH="$PATH:/usr/local/go/bin"
  export PATH
}

# ip_hostport URL_OR_ADDR: "tcp://127.0.0.1:7101" or "http://h:p/x" -> "h:p".
ip_hostport() {
  local a="${1#*://}"
  printf '%s\n' "${a%%/*}"
}

# ip_port_open HOST:PORT: true when something accepts a TCP connection there.
ip_port_open() {
  local hp="$1"
  (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null
}

# ip_proc_alive PID: true while PID runs (a zombie waiting for its reaper
# counts as gone).
ip_proc_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local st
  st="$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)"
  [[ $st != Z ]]
}

# ip_reserve_port PORT: a listening port inside the kernel's ephemeral range
# (PostgreSQL's 55432 is) can be taken for a moment by any outgoing
# connection's local end, and the server then fails to bind. As root, the
# port is added to net.ipv4.ip_local_reserved_ports so the kernel never hands
# it out to clients. Best effort: nothing happens when that is not possible.
ip_reserve_port() {
  local port="$1" f=/proc/sys/net/ipv4/ip_local_reserved_ports lo hi cur
  [[ $EUID -eq 0 && -w $f ]] || return 0
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range || return 0
  ((port >= lo && port <= hi)) || return 0
  cur="$(<"$f")"
  [[ ,$cur, == *",$port,"* ]] && return 0
  echo "${cur:+$cur,}$port" >"$f" 2>/dev/null || true
}

# ip_port_free NAME HOST:PORT: fails loudly when something else already
# listens where NAME is about to start (another stack, a stray server):
# otherwise its probe would answer for a process that is not ours.
ip_port_free() {
  local name="$1" hp="$2"
  ip_reserve_port "${hp##*:}"
  if ip_port_open "$hp"; then
    local who
    who="$(ss -ltnpH "sport = :${hp##*:}" 2>/dev/null | head -n1 | sed 's/.*users://')"
    ip_die "$name: $hp is already in use by a process this stack did not start (${who:-unknown}); stop it first (its scripts/stack stop, with its IP_VAR_DIR)"
  fi
}

ip_pidfile() { printf '%s/run/%s.pid\n' "$IP_VAR_DIR" "$1"; }
ip_logfile() { printf '%s/log/%s.log\n' "$IP_VAR_DIR" "$1"; }

# ip_pid_alive NAME: true when NAME's pid file names a live process.
ip_pid_alive() {
  local f pid
  f="$(ip_pidfile "$1")"
  [[ -f $f ]] || return 1
  pid="$(<"$f")"
  [[ $pid =~ ^[0-9]+$ ]] && ip_proc_alive "$pid"
}

# ip_spawn NAME CMD...: starts CMD detached, output to NAME's log, pid to
# NAME's pid file. Environment is inherited.
ip_spawn() {
  local name="$1"
  shift
  local log
  log="$(ip_logfile "$name")"
  mkdir -p "$IP_VAR_DIR/run" "$IP_VAR_DIR/log"
  printf '\n==== %s start %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log"
  setsid "$@" </dev/null >>"$log" 2>&1 &
  echo $! >"$(ip_pidfile "$name")"
}

# ip_wait_ready NAME TIMEOUT_S PROBE...: polls PROBE until it succeeds.
# Fails (printing the last 30 log lines) when the deadline passes or NAME's
# process exits first.
ip_wait_ready() {
  local name="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout)) delay=0.1
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if [[ -s $(ip_pidfile "$name") ]] && ! ip_pid_alive "$name"; then
      ip_warn "$name exited during start; last lines of $(ip_logfile "$name"):"
      tail -n 30 "$(ip_logfile "$name")" >&2 || true
      return 1
    fi
    sleep "$delay"
    [[ $delay == 0.1 ]] && delay=0.25
  done
  ip_warn "$name not ready after ${timeout}s; last lines of $(ip_logfile "$name"):"
  tail -n 30 "$(ip_logfile "$name")" >&2 || true
  return 1
}

# ip_stop_pid NAME [SIGNAL] [TIMEOUT_S]: signals the process in NAME's pid
# file, waits for it to exit, then KILLs it; removes the pid file.
ip_stop_pid() {
  local name="$1" sig="${2:-TERM}" timeout="${3:-20}"
  local f pid
  f="$(ip_pidfile "$name")"
  if [[ ! -f $f ]]; then
    return 0
  fi
  pid="$(<"$f")"
  if [[ $pid =~ ^[0-9]+$ ]] && ip_proc_alive "$pid"; then
    ip_info "stopping $name (pid $pid)"
    kill -s "$sig" "$pid" 2>/dev/null || true
    # A stopped process (SIGSTOP, as a test may leave one) acts on the
    # signal only once continued.
    kill -s CONT "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while ip_proc_alive "$pid" && ((SECONDS < deadline)); do
      sleep 0.1
    done
    if ip_proc_alive "$pid"; then
      ip_warn "$name (pid $pid) still running after ${timeout}s: KILL"
      kill -s KILL "$pid" 2>/dev/null || true
      while ip_proc_alive "$pid"; do sleep 0.1; done
    fi
  fi
  rm -f "$f"
}
