# scripts/lab.d/scenarios.sh — what a scenario puts on the lab: its host count, bridges, guests.
# shellcheck shell=bash

# Lines: "hosts N" | "bridge K NAME" | "guest K NAME MiB [BRIDGE]" | "stopped K NAME MiB"
#        | "pool K NAME PATH" (a dir storage pool; libvirt pre-creates copied disks in it)
#        | "tcg K" (host K's daemon sees no /dev/kvm: its QEMU and domain capabilities are TCG only)
# A "stopped" guest is only defined (a shut-off definition costs no memory), so it can be
# larger than any host.
scenario_lines() {
  case $1 in
    default)
      cat <<'LINES'
hosts 6
tcg 6
bridge 1 br-storage
bridge 3 br-storage
bridge 4 br-san
guest 1 web-1 64
guest 1 web-2 96
guest 1 db-1 128 br-storage
guest 2 app-1 64
guest 2 app-2 96
guest 2 app-3 128
guest 2 cache-1 64
stopped 5 big-1 16384
pool 1 images /var/lib/libvirt/images
pool 2 images /var/lib/libvirt/images
pool 3 images /var/lib/libvirt/images
pool 5 images /var/lib/libvirt/images
LINES
      ;;
    empty) echo "hosts 2" ;;
    *) die "unknown scenario '$1' (known: default, empty)" ;;
  esac
}

scenario_hosts() { scenario_lines "$1" | awk '$1 == "hosts" { print $2 }'; }

host_is_tcg() { # SCENARIO K
  scenario_lines "$1" | awk -v k="$2" '$1 == "tcg" && $2 == k { found = 1 } END { exit !found }'
}

host_bridges() { # SCENARIO K
  scenario_lines "$1" | awk -v k="$2" '$1 == "bridge" && $2 == k { print $3 }'
}

create_scenario_guests() {
  local kind k name mib br
  while read -r kind k name mib br; do
    case $kind in
      guest)
        create_guest "$k" "$name" "$mib" "$br"
        log "lab-$k: started $name (${mib} MiB${br:+, bridge $br})"
        ;;
      stopped)
        define_guest "$k" "$name" "$mib"
        log "lab-$k: defined $name (${mib} MiB, shut off)"
        ;;
      pool)
        # /var/lib/libvirt is the host's own directory (bound in its mount namespace), so the
        # same path is a different, local directory on every host: storage copy for real.
        create_dir_pool "$k" "$name" "$mib"
        log "lab-$k: storage pool $name at $mib"
        ;;
    esac
  done < <(scenario_lines "$SCENARIO")
}
