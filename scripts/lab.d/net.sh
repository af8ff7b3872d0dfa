# scripts/lab.d/net.sh — network namespaces evac-lab-K, their veths to the bridge evlab0 in the
# root namespace, and the scenario's per-host bridges. The test subnet exists only on the veths.
# shellcheck shell=bash

ns_exists() { [[ -e /run/netns/$1 ]]; }
# Lab namespaces present on this machine, by number (evac-lab-K).
lab_ns_numbers() {
  local n
  for n in /run/netns/"$NS_PREFIX"*; do
    [[ -e $n ]] || continue
    n=${n##*/"$NS_PREFIX"}
    [[ $n =~ ^[0-9]+$ ]] && printf '%s\n' "$n"
  done
  return 0
}
ns_inode() { stat -L -c %i "/run/netns/$1" 2>/dev/null || true; }
proc_ns_inode() { stat -L -c %i "/proc/$1/ns/$2" 2>/dev/null || true; }

net_up_host() { # K
  local k=$1 ns veth br
  ns=$(nsname "$k"); veth="$VETH_PREFIX$k"
  ns_exists "$ns" || ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip link add "$veth" type veth peer name mig0 netns "$ns"
  fi
  ip link set "$veth" master "$BRIDGE"
  ip link set "$veth" up
  ip netns exec "$ns" ip addr replace "$(addr "$k")/24" dev mig0
  ip netns exec "$ns" ip link set mig0 up
  for br in $(host_bridges "$SCENARIO" "$k"); do
    ip netns exec "$ns" ip link show "$br" >/dev/null 2>&1 \
      || ip netns exec "$ns" ip link add "$br" type bridge
    ip netns exec "$ns" ip link set "$br" up
  done
}

net_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip link set "$BRIDGE" up
  # The operator's address (evac's ssh connections come from here). Migration streams go
  # from host to host over the bridge; the root namespace takes no part in them.
  ip addr replace "$OPERATOR_ADDR/24" dev "$BRIDGE"
  local k
  for ((k = 1; k <= HOSTS; k++)); do net_up_host "$k"; done
}

# Namespaces (their veth ends and bridges go with them), stray veths, then the bridge.
net_down() {
  local k ns link
  for k in $(lab_ns_numbers); do
    ns=$(nsname "$k")
    ip netns del "$ns" && log "removed network namespace $ns"
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
    if [[ $link =~ ^${VETH_PREFIX}[0-9]+$ ]]; then ip link del "$link" 2>/dev/null || true; fi
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE" && log "removed bridge $BRIDGE"
  fi
}
