# Building and running the project's container image with podman, on a
# machine that reaches no image registry. Sourced (after common.sh and
# ip_load_env), never run.
#
# Everything podman keeps lives under $IP_TOOLS_DIR/containers: the image
# store with the build layers (storage/), podman's run state (runroot/), the
# base images' tarballs (base/) and the containers.conf this machine needs (crun refuses hybrid cgroups and setting
# rlimits is not permitted, so: runc, cgroupfs, no default ulimits). A second
# run therefore reuses the base image and the build layers; a clean clone
# makes them from nothing.
#
# The base image is made locally from Debian's packages: debootstrap
# --variant=minbase of bookworm (the Dockerfile's Debian 12) from the mirror
# this machine's apt uses, packed once as a tarball and imported as
# debian:12; debian:12-slim is the same tree with the dpkg filter Debian's
# slim images carry (no manuals, documentation or translations) applied. Both are also tagged under their
# docker.io/library/ names, the ones a Dockerfile's FROM resolves to.
#
#   ip_podman_init            sets PODMAN (the command with its options) and CONTAINERS_CONF
#   ip_podman_unusable        prints why podman cannot run here (nothing when it can)
#   ip_podman_base            makes the base image if missing
#   ip_podman_build TAG       builds the Dockerfile into TAG; sets IP_PODMAN_BUILD_S
#                             (the context is the repository, or $IP_PODMAN_CONTEXT
#                             when set: another checkout of it)

ip_podman_init() {
  IP_PODMAN_DIR="$IP_TOOLS_DIR/containers"
  mkdir -p "$IP_PODMAN_DIR/storage" "$IP_PODMAN_DIR/runroot" "$IP_PODMAN_DIR/base"
  cat >"$IP_PODMAN_DIR/containers.conf" <<'EOF'
# Written by scripts/lib/podman.sh.
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
  export CONTAINERS_CONF="$IP_PODMAN_DIR/containers.conf"
  PODMAN=(podman --root "$IP_PODMAN_DIR/storage" --runroot "$IP_PODMAN_DIR/runroot"
    --storage-driver overlay --runtime runc --cgroup-manager cgroupfs)
}

ip_podman_unusable() {
  if [[ $EUID -ne 0 ]]; then
    echo "podman needs root here (rootless podman needs subordinate ids and user namespaces this setup does not provide)"
    return
  fi
  local t
  for t in podman runc debootstrap; do
    command -v "$t" >/dev/null || { echo "$t is not installed (scripts/deps installs it)"; return; }
  done
  "${PODMAN[@]}" info >/dev/null 2>&1 || echo "podman info fails: $("${PODMAN[@]}" info 2>&1 | tail -n1)"
}

# The Debian mirror the machine's apt uses (deb822 or one-line sources).
ip_podman_mirror() {
  local m
  m="$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -oE 'https?://[^ ]*/debian/?( |$)' | head -n1 | tr -d ' ')"
  echo "${m:-http://deb.debian.org/debian}"
}

# The dpkg filter Debian's slim images carry: no manuals, documentation
# (copyright files kept) or translations, now or from later installs.
ip_podman_slim_filter() {
  cat <<'EOF'
# Written by scripts/lib/podman.sh: the slim image's dpkg filter.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
}

# debootstrap into a temporary directory, packed as TARBALL.
ip_podman_debootstrap() {
  local tarball="$1" root="$IP_PODMAN_DIR/base/rootfs.$$" start=$SECONDS
  rm -rf "$root"
  ip_info "container: debootstrap --variant=minbase bookworm from $(ip_podman_mirror)"
  debootstrap --variant=minbase bookworm "$root" "$(ip_podman_mirror)" \
    >"$IP_PODMAN_DIR/base/debootstrap.log" 2>&1 ||
    { tail -n 20 "$IP_PODMAN_DIR/base/debootstrap.log" >&2; rm -rf "$root"; ip_die "debootstrap failed"; }
  # apt's lists and the downloaded .debs are not part of an image.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
  ip_info "container: base tarball made in $((SECONDS - start))s ($(du -h "$tarball" | cut -f1))"
}

# The slim tarball from the full one: the filter installed and applied.
ip_podman_slim() {
  local full="$1" slim="$2" root="$IP_PODMAN_DIR/base/slim.$$"
  rm -rf "$root"
  mkdir -p "$root"
  tar -C "$root" -xf "$full"
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  ip_podman_slim_filter >"$root/etc/dpkg/dpkg.cfg.d/docker-slim"
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/*
  tar -C "$root" -cf "$slim.tmp" . && mv "$slim.tmp" "$slim"
  rm -rf "$root"
}

ip_podman_base() {
  if "${PODMAN[@]}" image exists localhost/debian:12 2>/dev/null &&
    "${PODMAN[@]}" image exists localhost/debian:12-slim 2>/dev/null; then
    return 0
  fi
  local full="$IP_PODMAN_DIR/base/debian-bookworm-minbase.tar"
  local slim="$IP_PODMAN_DIR/base/debian-bookworm-minbase-slim.tar"
  [[ -s $full ]] || ip_podman_debootstrap "$full"
  [[ -s $slim ]] || ip_podman_slim "$full" "$slim"
  local t n
  for t in 12 12-slim; do
    [[ $t == 12 ]] && n="$full" || n="$slim"
    "${PODMAN[@]}" import --quiet "$n" "localhost/debian:$t" >/dev/null ||
      ip_die "podman import of $n failed"
    "${PODMAN[@]}" tag "localhost/debian:$t" "debian:$t" "docker.io/library/debian:$t"
  done
}

ip_podman_build() {
  local tag="$1" start=$SECONDS log="$IP_PODMAN_DIR/build.log" ctx="${IP_PODMAN_CONTEXT:-$IP_ROOT}"
  ip_info "container: podman build -t $tag (log $log)"
  if ! "${PODMAN[@]}" build --isolation chroot --network host --pull=never -t "$tag" \
    -f "$ctx/Dockerfile" "$ctx" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    ip_die "podman build failed"
  fi
  IP_PODMAN_BUILD_S=$((SECONDS - start))
}
