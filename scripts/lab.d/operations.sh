# scripts/lab.d/operations.sh — commands on one host or guest of a lab that is up, for tests
# and demos: guest-dirty, guest-disk, guest-device, guest-snapshot, pool-tight, stop-host/start-host (a planned restart), and the faults
# freeze-host/thaw-host, kill-host, kill-guest. Each acts by PID (verified through /proc,
# never by name) and says what it did.
# shellcheck shell=bash

host_arg() { # K -> validated host number
  if ! [[ ${1:-} =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > HOSTS)); then die "host must be 1..$HOSTS: '${1:-}'"; fi
  printf '%s\n' "$1"
}

# A lab that may have hosts down (stop-host, kill-host): lab.conf is enough.
need_lab() {
  need_root
  read_lab_conf || die "no lab at $DIR"
}

# The K of `scripts/lab COMMAND K` (validated, on a lab that need_lab accepts) in HOST_K.
HOST_K=
take_host_arg() { # COMMAND ARGS...
  local cmd=$1; shift
  (($# == 1)) || die "usage: scripts/lab $cmd K"
  need_lab
  HOST_K=$(host_arg "$1")
}

cmd_guest_dirty() { # K NAME [MiB]
  (($# >= 2 && $# <= 3)) || die "usage: scripts/lab guest-dirty K NAME [MiB]"
  need_up
  local k name=$2 mib=${3:-64} t kernel="$DIR/dirtier.bin"
  k=$(host_arg "$1")
  valid_guest_name "$name" || die "bad guest name: $name"
  if ! [[ $mib =~ ^[0-9]+$ ]] || ((mib < 64)); then die "MiB must be a number >= 64 (the dirtier writes up to 60 MiB)"; fi
  t=$(now_ms)
  write_dirtier_kernel "$kernel"
  create_guest "$k" "$name" "$mib" "" "$kernel"
  local how=$(virt_type)
  # Some machines' KVM (nested virtualization) never gets SeaBIOS past loading a multiboot
  # kernel: the guest sits in the BIOS and dirties nothing. TCG always runs it, slower but
  # enough to keep its RAM dirty; the lab's other guests never leave SeaBIOS anyway.
  if ! wait_dirtier "$k" "$name" $([[ $how == kvm ]] && echo 10 || echo 30); then
    [[ $how == kvm ]] || die "lab-$k: $name did not start dirtying its RAM within 30s"
    log "lab-$k: $name did not start under KVM within 10s (SeaBIOS hangs loading it); retrying with TCG"
    virsh -q -c "$(uri "$k")" destroy "$name" >/dev/null 2>&1 || true
    virsh -q -c "$(uri "$k")" undefine "$name" >/dev/null 2>&1 || true
    how=qemu
    GUEST_VIRT_TYPE=qemu create_guest "$k" "$name" "$mib" "" "$kernel"
    wait_dirtier "$k" "$name" || die "lab-$k: $name did not start dirtying its RAM within 30s (TCG)"
  fi
  log "lab-$k: started $name ($mib MiB, RAM-dirtying, $how) in $(secs_since "$t")s"
}

# A running guest with a local raw disk (vda) in host K's pool POOL (default "images"): what
# storage copy moves. The image is sparse (a volume of MiB, nothing allocated); libvirt
# pre-creates a raw copy on the target in full.
cmd_guest_disk() { # K NAME [MiB [POOL]]
  (($# >= 2 && $# <= 4)) || die "usage: scripts/lab guest-disk K NAME [MiB [POOL]]"
  need_up
  local k name=$2 mib=${3:-32} pool=${4:-images} c dir
  k=$(host_arg "$1")
  valid_guest_name "$name" || die "bad guest name: $name"
  valid_guest_name "$pool" || die "bad pool name: $pool"
  [[ $mib =~ ^[0-9]+$ ]] && ((mib >= 1 && mib <= 4096)) || die "MiB must be 1..4096"
  c=$(uri "$k")
  dir=$(virsh -q -c "$c" pool-dumpxml "$pool" 2>/dev/null | sed -n 's|.*<path>\(.*\)</path>.*|\1|p' | head -1)
  [[ -n $dir ]] || die "lab-$k has no storage pool $pool (scenario without a pool there)"
  virsh -q -c "$c" vol-create-as "$pool" "$name.img" "${mib}M" --allocation 0 --format raw >/dev/null
  DISK_XML=$(local_disk_xml "$dir/$name.img") create_guest "$k" "$name" 64
  log "lab-$k: started $name (64 MiB, local raw disk vda of $mib MiB in pool $pool at $dir)"
}

# A dir pool NAME at /var/lib/libvirt/NAME on host K whose directory is a tmpfs of MiB, mounted
# inside K's mount namespace (it goes away with the host's daemon at `down`): a pool with
# little room for real, which the others (directories on the machine's disk) cannot be.
# MiB 0 removes the pool, its volumes and the tmpfs again.
cmd_pool_tight() { # K NAME MiB
  (($# == 3)) || die "usage: scripts/lab pool-tight K NAME MiB"
  need_up
  local k name=$2 mib=$3 pid path c
  k=$(host_arg "$1")
  valid_guest_name "$name" || die "bad pool name: $name"
  [[ $mib =~ ^[0-9]+$ ]] && ((mib <= 4096)) || die "MiB must be 0..4096"
  pid=$(need_libvirtd "$k")
  path=/var/lib/libvirt/$name
  c=$(uri "$k")
  if ((mib == 0)); then
    virsh -q -c "$c" pool-destroy "$name" >/dev/null 2>&1 || true
    virsh -q -c "$c" pool-undefine "$name" >/dev/null 2>&1 || true
    nsenter -t "$pid" -m -- umount "$path" 2>/dev/null || true
    nsenter -t "$pid" -m -- rmdir "$path" 2>/dev/null || true
    log "lab-$k: removed storage pool $name at $path"
    return 0
  fi
  nsenter -t "$pid" -m -- mkdir -p "$path"
  nsenter -t "$pid" -m -- mount -t tmpfs -o "size=${mib}m,mode=0711" "evac-lab-$name" "$path"
  create_dir_pool "$k" "$name" "$path"
  log "lab-$k: storage pool $name at $path (a tmpfs of $mib MiB in lab-$k's mount namespace)"
}

# A running guest with a device that evac refuses to move live: KIND user-nic (a user-mode
# NAT NIC, which VirtFusion refuses), 9p (a filesystem passthrough of DIR/hosts/lab-K/share,
# which QEMU blocks from migrating while the guest has it mounted) or virtiofs (the same
# through virtiofsd, with shared memory, which libvirt refuses to migrate).
cmd_guest_device() { # K NAME KIND
  (($# == 3)) || die "usage: scripts/lab guest-device K NAME user-nic|9p|virtiofs"
  need_up
  local k name=$2 kind=$3 share dev mem=''
  k=$(host_arg "$1")
  valid_guest_name "$name" || die "bad guest name: $name"
  share="$(hdir "$k")/share"
  case $kind in
    user-nic) dev="    <interface type='user'><model type='virtio'/><rom enabled='no'/></interface>" ;;
    9p)
      mkdir -p "$share"
      dev="    <filesystem type='mount' accessmode='passthrough'><source dir='$share'/><target dir='share0'/></filesystem>"
      ;;
    virtiofs)
      mkdir -p "$share"
      dev="    <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='$share'/><target dir='share0'/></filesystem>"
      mem="  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
      ;;
    *) die "KIND must be user-nic, 9p or virtiofs: '$kind'" ;;
  esac
  DISK_XML=$dev MEMORY_XML=$mem create_guest "$k" "$name" 64
  log "lab-$k: started $name (64 MiB, $kind)"
}

# A running guest with one snapshot (its metadata, redefined: no disk needed), which libvirt
# refuses to migrate.
cmd_guest_snapshot() { # K NAME
  (($# == 2)) || die "usage: scripts/lab guest-snapshot K NAME"
  need_up
  local k name=$2 xml
  k=$(host_arg "$1")
  valid_guest_name "$name" || die "bad guest name: $name"
  create_guest "$k" "$name" 64
  xml="$(hdir "$k")/guests/$name.snapshot.xml"
  printf '%s\n' "<domainsnapshot><name>before-drain</name><state>running</state>" \
    "<creationTime>$(date +%s)</creationTime><memory snapshot='no'/>" \
    "$(virsh -q -c "$(uri "$k")" dumpxml "$name")</domainsnapshot>" >"$xml"
  virsh -q -c "$(uri "$k")" snapshot-create "$name" --xmlfile "$xml" --redefine >/dev/null
  log "lab-$k: started $name (64 MiB) with snapshot before-drain"
}

# A running guest whose CPU is host-model (libvirt expands it to the host's CPU at start), so
# that a TCG-only target is refused for it.
cmd_guest_host_model() { # K NAME
  (($# == 2)) || die "usage: scripts/lab guest-host-model K NAME"
  need_up
  local k name=$2
  k=$(host_arg "$1")
  valid_guest_name "$name" || die "bad guest name: $name"
  CPU_XML="<cpu mode='host-model' check='partial'/>" create_guest "$k" "$name" 64
  log "lab-$k: started $name (64 MiB, host-model CPU, $(host_virt_type "$k"))"
}

# A plain guest of domain type qemu (TCG) on host K, even on a KVM host: the guest class a
# TCG-only host (lab-6) can take (issue 15, virt-type).
cmd_guest_tcg() { # K NAME
  (($# == 2)) || die "usage: scripts/lab guest-tcg K NAME"
  need_up
  local k name=$2
  k=$(host_arg "$1")
  valid_guest_name "$name" || die "bad guest name: $name"
  GUEST_VIRT_TYPE=qemu create_guest "$k" "$name" 64
  log "lab-$k: started $name (64 MiB, domain type qemu)"
}

# ------------------------------------------------------- planned stop and start

cmd_stop_host() { # K
  take_host_arg stop-host "$@"
  local k=$HOST_K pid
  pid=$(daemon_pid "$k")
  [[ -n $pid ]] || die "lab-$k: libvirtd is not running"
  thaw_if_frozen "$k"
  stop_pids "libvirtd of lab-$k (its tini -s parent)" "$pid"
}

cmd_start_host() { # K
  take_host_arg start-host "$@"
  local k=$HOST_K
  [[ -z $(daemon_pid "$k") ]] || { log "lab-$k: libvirtd already running"; return 0; }
  ns_exists "$(nsname "$k")" || die "lab-$k: network namespace missing; run 'scripts/lab down' and 'up'"
  start_daemon "$k"
  wait_ready "$k" $(($(date +%s) + READY_TIMEOUT)) || die "lab-$k did not come up"
  log "lab-$k: libvirtd started (pid $(<"$(hdir "$k")/libvirtd.pid"))$(running_guests_note "$k")"
}

# The lab's stand-in for a host reboot in a rolling maintenance cycle: the daemon goes away
# (its connections break, libvirt stops answering) and comes back; its guests, if any were
# left, keep running.
cmd_restart_host() { # K
  take_host_arg restart-host "$@"
  cmd_stop_host "$HOST_K"
  cmd_start_host "$HOST_K"
}

# ", running guests: a b" after a restart, so a restart after kill-host shows that libvirtd
# found the guests it left running.
running_guests_note() { # K
  local names
  names=$(virsh -q -c "$(uri "$1")" list --name 2>/dev/null | sed '/^$/d' | tr '\n' ' ')
  [[ -z $names ]] || printf '; running guests: %s' "${names% }"
}

# ---------------------------------------------------------------------- faults

# SIGSTOP to the host's libvirtd itself (not its tini): the socket still accepts, nothing
# answers, as with a hung daemon. Its guests keep running.
cmd_freeze_host() { # K
  take_host_arg freeze-host "$@"
  local k=$HOST_K pid
  pid=$(need_libvirtd "$k")
  kill -STOP "$pid"
  wait_state "$pid" T || die "lab-$k: libvirtd pid $pid did not stop within ${SIGNAL_TIMEOUT}s"
  log "lab-$k: froze libvirtd pid $pid (SIGSTOP); 'scripts/lab thaw-host $k' resumes it"
}

cmd_thaw_host() { # K
  take_host_arg thaw-host "$@"
  local k=$HOST_K pid was
  pid=$(need_libvirtd "$k")
  was=$(proc_state "$pid")
  kill -CONT "$pid"
  if [[ $was == T ]]; then
    log "lab-$k: thawed libvirtd pid $pid (SIGCONT)"
  else
    log "lab-$k: libvirtd pid $pid was not frozen (state $was); sent SIGCONT anyway"
  fi
}

# SIGKILL to the host's libvirtd, as a daemon crash: its guests' QEMUs keep running, and its
# tini, whose child it was, exits with it. start-host K brings it back; libvirtd then finds
# the running guests again (their status files and monitor sockets are in the host's dirs).
cmd_kill_host() { # K
  take_host_arg kill-host "$@"
  local k=$HOST_K pid tini qemu
  pid=$(need_libvirtd "$k")
  tini=$(daemon_pid "$k")
  qemu=$(host_qemu_pids "$k" "$pid" | xargs)
  kill -KILL "$pid"
  wait_gone "$pid" || die "lab-$k: libvirtd pid $pid still there ${SIGNAL_TIMEOUT}s after SIGKILL"
  wait_gone "$tini" || die "lab-$k: tini pid $tini did not exit after its libvirtd pid $pid was killed"
  log "lab-$k: killed libvirtd pid $pid (SIGKILL; its tini $tini exited); guest QEMUs left running: ${qemu:-none}; 'scripts/lab start-host $k' restarts it"
}

# SIGKILL to a guest's QEMU, as a crash of that process: found through the pid file that
# the host's libvirtd keeps for it (DIR/hosts/lab-K/run/qemu/NAME.pid), on whichever host
# has one. During a migration both source and target have a QEMU for the guest: then name K.
cmd_kill_guest() { # NAME [K]
  (($# == 1 || $# == 2)) || die "usage: scripts/lab kill-guest NAME [K]"
  need_lab
  local name=$1 k pid found=()
  valid_guest_name "$name" || die "bad guest name: $name"
  if (($# == 2)); then
    k=$(host_arg "$2")
    pid=$(guest_qemu_pid "$k" "$name")
    [[ -n $pid ]] || die "lab-$k has no QEMU for guest $name"
  else
    for ((k = 1; k <= HOSTS; k++)); do
      pid=$(guest_qemu_pid "$k" "$name")
      [[ -z $pid ]] || found+=("$k:$pid")
    done
    ((${#found[@]})) || die "no lab host has a QEMU for guest $name"
    ((${#found[@]} == 1)) \
      || die "guest $name has a QEMU on more than one host (lab-K:pid ${found[*]}); name one: scripts/lab kill-guest $name K"
    k=${found[0]%%:*}; pid=${found[0]#*:}
  fi
  kill -KILL "$pid"
  wait_gone "$pid" || die "lab-$k: QEMU pid $pid of $name still there ${SIGNAL_TIMEOUT}s after SIGKILL"
  log "lab-$k: killed QEMU pid $pid of guest $name (SIGKILL)"
}
