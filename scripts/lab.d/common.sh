# scripts/lab.d/common.sh — constants, messages, the lab directory and its paths, the lock,
# packages, and virsh. Sourced by scripts/lab (which sets PROG, SELF, LAB_ROOT).
# shellcheck shell=bash

readonly NS_PREFIX=evac-lab-
readonly BRIDGE=evlab0
readonly VETH_PREFIX=evlab-
readonly SUBNET=10.213.0
readonly LIBVIRTD=/usr/sbin/libvirtd
readonly QEMU_BIN=/usr/bin/qemu-system-x86_64
readonly VIRSH=/usr/bin/virsh
readonly TINI=/usr/bin/tini
readonly READY_TIMEOUT=30     # seconds a daemon may take to answer `virsh version`
readonly STOP_TIMEOUT=10      # seconds between SIGTERM and SIGKILL
readonly SIGNAL_TIMEOUT=5     # seconds a signalled libvirtd or QEMU may take to stop or go
readonly MAX_HOSTS=16
readonly LOCK_FILE=/run/lock/evac-lab.lock

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
now_ms() { date +%s%3N; }
secs_since() { # START_MS -> "1.234"
  local d=$(( $(now_ms) - $1 ))
  printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

need_root() { [[ $(id -u) -eq 0 ]] || die "this variant needs root (root libvirtd, network namespaces)"; }

# ---------------------------------------------------------------- paths, identity

DIR=
HOSTS=
SCENARIO=default

set_dir() {
  local d=${1:-${EVAC_LAB_DIR:-/tmp/evac-lab}}
  [[ $d == /* ]] || die "--dir must be an absolute path: $d"
  [[ $d =~ ^[A-Za-z0-9._/-]+$ ]] || die "--dir may only contain [A-Za-z0-9._/-]: $d"
  d=$(realpath -m -- "$d")
  [[ $d != / ]] || die "--dir must not be /"
  # These are replaced by tmpfs inside each daemon's mount namespace, so the daemons
  # (and the peer-to-peer migration client inside them) could not see DIR there.
  local hidden
  for hidden in /run /var/run /var/lib /var/cache /var/log /etc; do
    [[ $d != "$hidden" && $d != "$hidden"/* ]] || die "--dir must not be under $hidden (hidden from the daemons)"
  done
  DIR=$d
}

hdir() { printf '%s/hosts/lab-%d' "$DIR" "$1"; }
uri() { printf 'qemu+unix:///system?socket=%s/run/libvirt-sock' "$(hdir "$1")"; }
addr() { printf '%s.%d' "$SUBNET" "$1"; }
nsname() { printf '%s%d' "$NS_PREFIX" "$1"; }
conf_path() { printf '%s/etc/libvirtd.conf' "$(hdir "$1")"; }

# ------------------------------------------------------------------- processes

# The NUL-separated cmdline of PID, with NULs turned into spaces (empty if gone; stderr is
# redirected first, so a PID that just went prints no "No such file").
proc_cmdline() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true; }
# The executable of PID (empty if gone or not ours to read).
proc_exe() { readlink "/proc/$1/exe" 2>/dev/null || true; }
# The one-letter state of PID from /proc/PID/stat (R, S, T = stopped, Z = zombie, …; empty if gone).
# The command name in field 2 may hold spaces, so the state is the field after its ")".
proc_state() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
  stat=${stat##*) }
  printf '%s\n' "${stat%% *}"
}
# The children of PID (every thread's), one per line.
proc_children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d' || true; }
# Waits up to SIGNAL_TIMEOUT until PID is gone (or a zombie, which only its parent can reap).
wait_gone() { # PID
  local deadline=$(($(date +%s) + SIGNAL_TIMEOUT)) s
  while (($(date +%s) < deadline)); do
    s=$(proc_state "$1")
    [[ -z $s || $s == Z ]] && return 0
    sleep 0.05
  done
  return 1
}

# Waits up to SIGNAL_TIMEOUT until PID is in STATE (proc_state).
wait_state() { # PID STATE
  local deadline=$(($(date +%s) + SIGNAL_TIMEOUT))
  while (($(date +%s) < deadline)); do
    [[ $(proc_state "$1") == "$2" ]] && return 0
    sleep 0.05
  done
  return 1
}

# ------------------------------------------------------------------------ lock

with_lock() {
  mkdir -p "${LOCK_FILE%/*}"
  exec 9>"$LOCK_FILE"
  # Children of a killed `up` (a virsh waiting on a probing daemon) may hold the
  # lock for a few seconds after it died, so wait a bounded time rather than fail.
  if ! flock -n 9; then
    log "waiting for the lab lock $LOCK_FILE (another up/down, or leftovers of a killed one)"
    flock -w 60 9 || die "another 'scripts/lab up/down' holds $LOCK_FILE"
  fi
}

# -------------------------------------------------------------------- packages

# The lab's packages are the "lab" group of scripts/deps.list, the project's one list.
ensure_packages() { "$LAB_ROOT/scripts/deps" lab; }

# ----------------------------------------------------------------------- virsh

# virsh 9.0 starts a polkit text agent (pkttyagent) whenever it can open its controlling
# terminal, for any URI and even read-only; with no polkit daemon on the machine that agent
# prints "Authorization not available. Check if polkit service is running …" on every call.
# Its stdin does not matter (it opens /dev/tty) and no option or variable turns the agent
# off, so when the lab has a terminal each virsh runs in a session of its own (setsid: no
# controlling terminal), where it starts no agent. The terminal's Ctrl-C then reaches the
# lab only, which therefore stops itself once that virsh returns (see scripts/lab).
LAB_HAS_TTY=0
if (: <>/dev/tty) 2>/dev/null; then LAB_HAS_TTY=1; fi
readonly LAB_HAS_TTY

virsh() {
  if ((LAB_HAS_TTY)); then setsid -w "$VIRSH" "$@"; else "$VIRSH" "$@"; fi
}

# virsh under a deadline (timeout(1) runs the binary, not the function above).
virsh_within() { # SECONDS virsh-args...
  local secs=$1; shift
  if ((LAB_HAS_TTY)); then timeout "$secs" setsid -w "$VIRSH" "$@"; else timeout "$secs" "$VIRSH" "$@"; fi
}
