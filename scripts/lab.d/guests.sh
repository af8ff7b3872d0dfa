# scripts/lab.d/guests.sh — guests on the lab hosts: their XML, define/start, state, live
# migration, the RAM-dirtying guest, and their QEMU PIDs (from the host's pid files).
# shellcheck shell=bash

virt_type() { if [[ -r /dev/kvm && -w /dev/kvm ]]; then echo kvm; else echo qemu; fi; }
# Host K's: qemu on a TCG-only host (scenario line "tcg K"), else the machine's.
host_virt_type() { if [[ -e $(hdir "$1")/tcg ]]; then echo qemu; else virt_type; fi; }

# A guest name the lab accepts on its command line (it becomes a file name).
valid_guest_name() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]]; }

# GUEST_VIRT_TYPE overrides kvm/qemu; DISK_XML is added to <devices>, MEMORY_XML after <vcpu>,
# CPU_XML is the <cpu>.
guest_xml() { # NAME MiB [BRIDGE [KERNEL]]
  local name=$1 mib=$2 br=${3:-} kernel=${4:-}
  cat <<EOF
<domain type='${GUEST_VIRT_TYPE:-$(virt_type)}'>
  <name>$name</name>
  <description>evac lab guest ($SCENARIO)</description>
  <memory unit='MiB'>$mib</memory>
  <vcpu>1</vcpu>${MEMORY_XML:+
$MEMORY_XML}
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>${kernel:+
    <kernel>$kernel</kernel>}
  </os>
  ${CPU_XML:-<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>}
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$QEMU_BIN</emulator>
    <controller type='usb' model='none'/>
${DISK_XML:-}
EOF
  if [[ -n $br ]]; then
    cat <<EOF
    <interface type='bridge'>
      <source bridge='$br'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
EOF
  fi
  cat <<EOF
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# Define and start a guest on host K.
create_guest() { # K NAME MiB [BRIDGE [KERNEL]]
  local k=$1 name=$2 xml
  xml="$(hdir "$k")/guests/$name.xml"
  GUEST_VIRT_TYPE=${GUEST_VIRT_TYPE:-$(host_virt_type "$k")} guest_xml "$name" "$3" "${4:-}" "${5:-}" >"$xml"
  virsh -q -c "$(uri "$k")" define "$xml" >/dev/null
  virsh -q -c "$(uri "$k")" start "$name" >/dev/null
}

# A started dir pool NAME at PATH on host K (PATH is inside the host's mount namespace).
create_dir_pool() { # K NAME PATH
  local c
  c=$(uri "$1")
  virsh -q -c "$c" pool-define-as "$2" dir --target "$3" >/dev/null
  virsh -q -c "$c" pool-build "$2" >/dev/null
  virsh -q -c "$c" pool-start "$2" >/dev/null
  virsh -q -c "$c" pool-autostart "$2" >/dev/null
}

# The <disk> of a local image (a virtio disk vda), for guest_xml's DISK_XML; FORMAT raw (default)
# or qcow2 (libvirt reads a qcow2 image's backing chain from the image itself).
local_disk_xml() { # PATH
  cat <<EOF
    <disk type='file' device='disk'>
      <driver name='qemu' type='${FORMAT:-raw}' cache='none'/>
      <source file='$1'/>
      <target dev='vda' bus='virtio'/>
    </disk>
EOF
}

# Define (without starting) a guest on host K.
define_guest() { # K NAME MiB
  local k=$1 name=$2 xml
  xml="$(hdir "$k")/guests/$name.xml"
  GUEST_VIRT_TYPE=${GUEST_VIRT_TYPE:-$(host_virt_type "$k")} guest_xml "$name" "$3" >"$xml"
  virsh -q -c "$(uri "$k")" define "$xml" >/dev/null
}

dom_state() { # K NAME -> state or "absent"
  virsh -q -c "$(uri "$1")" domstate "$2" 2>/dev/null | sed '/^$/d' || echo absent
}
on_host() { # K NAME STATE
  [[ $(dom_state "$1" "$2") == "$3" ]]
}

# Live peer-to-peer migration; LAST_SECS holds the wall time, LAST_OUT the output.
LAST_SECS=''
LAST_OUT=''
migrate() { # SRC DST NAME [extra virsh args...]
  local s=$1 d=$2 name=$3 t rc=0
  shift 3
  t=$(now_ms)
  LAST_OUT=$(virsh -c "$(uri "$s")" migrate --live --p2p --persistent --undefinesource \
    "$@" "$name" "$(uri "$d")" 2>&1) || rc=$?
  LAST_SECS=$(secs_since "$t")
  return "$rc"
}

remove_guest_everywhere() { # NAME
  local k
  for ((k = 1; k <= HOSTS; k++)); do
    virsh -q -c "$(uri "$k")" destroy "$1" >/dev/null 2>&1 || true
    virsh -q -c "$(uri "$k")" undefine "$1" >/dev/null 2>&1 || true
  done
}

# ------------------------------------------------------------ the RAM dirtier

# A 58-byte multiboot "kernel" (flat binary, a.out kludge, loaded at 1 MiB) that writes
# a counter into every 4 KiB page from 2 MiB to 60 MiB, forever. A freshly booted guest
# without an OS is almost all zero pages, which QEMU sends nearly for free, so a
# migration of it finishes even at 1 MiB/s; this one keeps ~58 MiB dirty.
#   31 F6             xor esi, esi
#   BF 00 00 20 00    outer: mov edi, 0x200000
#   89 37             inner: mov [edi], esi
#   81 C7 00 10 00 00 add edi, 0x1000
#   81 FF 00 00 C0 03 cmp edi, 0x3C00000
#   72 F0             jb inner
#   46                inc esi
#   EB E8             jmp outer
write_dirtier_kernel() { # PATH
  printf '%b' \
    '\x02\xb0\xad\x1b' '\x00\x00\x01\x00' '\xfe\x4f\x51\xe4' \
    '\x00\x00\x10\x00' '\x00\x00\x10\x00' '\x00\x00\x00\x00' '\x00\x00\x00\x00' '\x20\x00\x10\x00' \
    '\x31\xf6\xbf\x00\x00\x20\x00\x89\x37\x81\xc7\x00\x10\x00\x00' \
    '\x81\xff\x00\x00\xc0\x03\x72\xf0\x46\xeb\xe8' >"$1"
}

# Wait until the dirtier has written near the top of its RAM (it starts only after
# SeaBIOS has loaded it, 2-3 s). Reads guest memory through the monitor (this marks
# the throwaway guest "tainted: custom-monitor").
wait_dirtier() { # K NAME [SECONDS]
  local deadline=$(($(date +%s) + ${3:-30})) word
  while (($(date +%s) < deadline)); do
    word=$(virsh -c "$(uri "$1")" qemu-monitor-command --hmp "$2" 'xp /1xw 0x3bff000' 2>/dev/null \
      | tr -d '\r' | sed -n 's/^[0-9a-f]*: *//p')
    [[ -n $word && $word != 0x00000000 ]] && return 0
    sleep 0.2
  done
  return 1
}

# ------------------------------------------------------------------ QEMU PIDs

# Is PID a QEMU of host K? It must run $QEMU_BIN and live in K's network namespace, or share
# the mount namespace of K's (verified) libvirtd LIBVIRTD_PID.
is_host_qemu() { # PID K [LIBVIRTD_PID]
  local pid=$1 k=$2 dpid=${3:-} netino mntino
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ $(proc_cmdline "$pid") == *qemu-system* ]] || return 1
  netino=$(ns_inode "$(nsname "$k")")
  [[ -n $netino && $(proc_ns_inode "$pid" net) == "$netino" ]] && return 0
  [[ -n $dpid ]] || return 1
  mntino=$(proc_ns_inode "$dpid" mnt)
  [[ -n $mntino && $(proc_ns_inode "$pid" mnt) == "$mntino" ]]
}

# QEMU processes of host K: from the pid files libvirtd keeps in the host's runtime dir
# (DIR/hosts/lab-K/run/qemu/NAME.pid), accepted only when is_host_qemu says so.
host_qemu_pids() { # K [LIBVIRTD_PID]
  local k=$1 dpid=${2:-} f pid
  for f in "$(hdir "$k")"/run/qemu/*.pid; do
    [[ -r $f ]] || continue
    pid=$(<"$f")
    if is_host_qemu "$pid" "$k" "$dpid"; then printf '%s\n' "$pid"; fi
  done
}

# The QEMU of guest NAME on host K (from K's pid file for NAME, verified), else nothing.
# libvirt names the guest in QEMU's command line as `-name guest=NAME,…`.
guest_qemu_pid() { # K NAME
  local f pid
  f="$(hdir "$1")/run/qemu/$2.pid"
  [[ -r $f ]] || return 0
  pid=$(<"$f")
  is_host_qemu "$pid" "$1" || return 0
  [[ $(proc_exe "$pid") == "$QEMU_BIN" && $(proc_cmdline "$pid") == *" guest=$2,"* ]] || return 0
  printf '%s\n' "$pid"
}
