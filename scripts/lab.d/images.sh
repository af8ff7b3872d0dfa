# scripts/lab.d/images.sh — guests with qcow2 disks: a local qcow2 image with data in it, and a
# qcow2 image over a backing file (local, in the same pool, or on storage several hosts share).
# The images are made with qemu-img and written with qemu-io inside the host's mount namespace,
# so the backing file's path is the one the host's QEMU opens.
# shellcheck shell=bash

readonly QEMU_IMG=/usr/bin/qemu-img
readonly QEMU_IO=/usr/bin/qemu-io

# `guest-qcow2 K NAME [MiB [DATA [POOL [BASE]]]]`: a running guest on lab-K whose disk vda is a
# qcow2 image NAME.qcow2 of MiB (default 64) in lab-K's pool POOL (default images). Without BASE
# the image holds DATA MiB (default 8) of written data; with BASE (a pool name: images, or shared
# storage such as gv0) the data is in a backing file NAME-base.qcow2 in that pool, and the top
# image holds 1 MiB of its own after it.
cmd_guest_qcow2() { # K NAME [MiB [DATA [POOL [BASE]]]]
  (($# >= 2 && $# <= 6)) || die "usage: scripts/lab guest-qcow2 K NAME [MiB [DATA [POOL [BASE]]]]"
  need_up
  local k name=$2 mib=${3:-64} data=${4:-8} pool=${5:-images} base=${6:-} c pid dir bdir top img
  k=$(host_arg "$1")
  valid_guest_name "$name" || die "bad guest name: $name"
  valid_guest_name "$pool" || die "bad pool name: $pool"
  [[ -z $base ]] || valid_guest_name "$base" || die "bad pool name: $base"
  [[ $mib =~ ^[0-9]+$ ]] && ((mib >= 2 && mib <= 4096)) || die "MiB must be 2..4096"
  [[ $data =~ ^[0-9]+$ ]] && ((data < mib)) || die "DATA must be a number of MiB below MiB ($mib)"
  [[ -x $QEMU_IMG && -x $QEMU_IO ]] || die "$QEMU_IMG or $QEMU_IO missing (scripts/deps lab installs qemu-utils)"
  c=$(uri "$k")
  pid=$(need_libvirtd "$k")
  dir=$(pool_path "$k" "$pool") || die "lab-$k has no storage pool $pool"
  top=$dir/$name.qcow2
  if [[ -z $base ]]; then
    in_host "$pid" "$QEMU_IMG" create -q -f qcow2 "$top" "${mib}M"
    ((data == 0)) || in_host "$pid" "$QEMU_IO" -f qcow2 -c "write -q -P 0x5a 0 ${data}M" "$top"
  else
    bdir=$(pool_path "$k" "$base") || die "lab-$k has no storage pool $base"
    img=$bdir/$name-base.qcow2
    in_host "$pid" "$QEMU_IMG" create -q -f qcow2 "$img" "${mib}M"
    ((data == 0)) || in_host "$pid" "$QEMU_IO" -f qcow2 -c "write -q -P 0x5a 0 ${data}M" "$img"
    in_host "$pid" "$QEMU_IMG" create -q -f qcow2 -b "$img" -F qcow2 "$top" "${mib}M"
    in_host "$pid" "$QEMU_IO" -f qcow2 -c "write -q -P 0xa5 ${data}M 1M" "$top"
    virsh -q -c "$c" pool-refresh "$base" >/dev/null
  fi
  virsh -q -c "$c" pool-refresh "$pool" >/dev/null
  DISK_XML=$(FORMAT=qcow2 local_disk_xml "$top") create_guest "$k" "$name" 64
  log "lab-$k: started $name (64 MiB, qcow2 disk vda of $mib MiB at $top, ${base:+backing file $img with }$data MiB written${base:+, 1 MiB in the top image})"
}

# The target path of host K's storage pool NAME, or status 1.
pool_path() { # K NAME
  local p
  p=$(virsh -q -c "$(uri "$1")" pool-dumpxml "$2" 2>/dev/null | sed -n 's|.*<path>\(.*\)</path>.*|\1|p' | head -1)
  [[ -n $p ]] && printf '%s\n' "$p"
}

# A command in the mount namespace of the libvirtd LIBVIRTD_PID, where the host's paths are.
in_host() { # LIBVIRTD_PID COMMAND ARGS...
  local pid=$1
  shift
  nsenter -t "$pid" -m -- "$@"
}
