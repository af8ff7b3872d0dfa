# scripts/lab.d/selftest.sh — `scripts/lab selftest`: live-migration checks between lab hosts
# and checks of the lab's own fault operations, one PASS/FAIL line each.
# shellcheck shell=bash

FAILS=0
pass() { printf 'PASS  %-58s %s\n' "$1" "${2:-}"; }
fail() { printf 'FAIL  %-58s %s\n' "$1" "${2:-}"; FAILS=$((FAILS + 1)); }

# Runs `scripts/lab COMMAND ARGS…` on this lab; LAST_OUT holds its messages, without "lab: ".
lab_command() { # COMMAND ARGS...
  local rc=0
  LAST_OUT=$("$SELF" "$@" --dir "$DIR" 2>&1) || rc=$?
  LAST_OUT=${LAST_OUT//"$PROG: "/}
  return "$rc"
}

cmd_selftest() {
  need_up
  ((HOSTS >= 2)) || die "selftest needs at least 2 hosts"
  local a=$((HOSTS >= 4 ? 3 : 1)) b=$((HOSTS >= 4 ? 4 : 2)) g=selftest-a T0
  T0=$(now_ms)
  check_daemons
  if ! check_live_migration "$a" "$b" "$g"; then echo "FAIL count: $FAILS"; return 1; fi
  check_dirty_guest "$a" "$b"
  if [[ $SCENARIO == default ]]; then check_bridges; fi
  check_faults "$a" "$g"
  remove_guest_everywhere "$g"
  echo "selftest: $FAILS failure(s) in $(secs_since "$T0")s"
  ((FAILS == 0))
}

check_daemons() {
  local k t uuids
  for ((k = 1; k <= HOSTS; k++)); do
    t=$(now_ms)
    if virsh -q -c "$(uri "$k")" version >/dev/null 2>&1; then
      pass "lab-$k answers virsh version" "$(secs_since "$t")s"
    else fail "lab-$k answers virsh version"; fi
  done
  uuids=$(for ((k = 1; k <= HOSTS; k++)); do
    virsh -q -c "$(uri "$k")" capabilities | sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' | head -n1; done | sort -u | wc -l)
  if ((uuids == HOSTS)); then pass "every host reports a distinct host UUID"; else fail "every host reports a distinct host UUID" "$uuids distinct"; fi
}

# Guest G started on A, migrated to B and back. Returns 1 when G cannot even start.
check_live_migration() { # A B G
  local a=$1 b=$2 g=$3 t
  remove_guest_everywhere "$g"
  t=$(now_ms)
  if create_guest "$a" "$g" 64 && on_host "$a" "$g" running; then
    pass "define+start $g (64 MiB, $(virt_type)) on lab-$a" "$(secs_since "$t")s"
  else
    fail "define+start $g on lab-$a"; return 1
  fi
  if migrate "$a" "$b" "$g" --migrateuri "tcp://$(addr "$b")" \
    && on_host "$b" "$g" running && [[ $(dom_state "$a" "$g") == absent ]]; then
    pass "live p2p migrate lab-$a -> lab-$b (--migrateuri tcp://$(addr "$b"))" "${LAST_SECS}s"
  else fail "live p2p migrate lab-$a -> lab-$b" "$LAST_OUT"; fi
  if migrate "$b" "$a" "$g" && on_host "$a" "$g" running && [[ $(dom_state "$b" "$g") == absent ]]; then
    pass "live p2p migrate lab-$b -> lab-$a (no --migrateuri: migration_host)" "${LAST_SECS}s"
  else fail "live p2p migrate lab-$b -> lab-$a" "$LAST_OUT"; fi
}

# A guest that keeps its memory dirty, for the abort and post-copy checks.
check_dirty_guest() { # A B
  local a=$1 b=$2 gd=selftest-dirty kernel="$DIR/selftest-dirtier.bin" t
  write_dirtier_kernel "$kernel"
  remove_guest_everywhere "$gd"
  t=$(now_ms)
  if create_guest "$a" "$gd" 64 "" "$kernel" && wait_dirtier "$a" "$gd"; then
    pass "define+start $gd (multiboot page dirtier) on lab-$a" "$(secs_since "$t")s until RAM is dirty"
  else
    fail "define+start $gd on lab-$a"
  fi
  check_abort "$a" "$b" "$gd"
  check_postcopy "$a" "$b" "$gd"
  remove_guest_everywhere "$gd"
}

# Abort under a 1 MiB/s cap: the guest must stay running on the source.
check_abort() { # A B GUEST
  local a=$1 b=$2 gd=$3 out="$DIR/selftest-abort.out" mpid rc=0 deadline jobinfo='' processed t
  t=$(now_ms)
  virsh -c "$(uri "$a")" migrate --live --p2p --persistent --undefinesource --bandwidth 1 \
    "$gd" "$(uri "$b")" --migrateuri "tcp://$(addr "$b")" >"$out" 2>&1 &
  mpid=$!
  deadline=$(($(date +%s) + 15))
  while (($(date +%s) < deadline)); do
    jobinfo=$(virsh -c "$(uri "$a")" domjobinfo "$gd" 2>/dev/null || true)
    [[ $jobinfo == *Unbounded* ]] && break
    kill -0 "$mpid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 3
  jobinfo=$(virsh -c "$(uri "$a")" domjobinfo "$gd" 2>/dev/null || true)
  processed=$(sed -n 's/^Data processed: *//p' <<<"$jobinfo")
  virsh -q -c "$(uri "$a")" domjobabort "$gd" >/dev/null 2>&1 || true
  wait "$mpid" || rc=$?
  if ((rc != 0)) && on_host "$a" "$gd" running && [[ $(dom_state "$b" "$gd") == absent ]]; then
    pass "--bandwidth 1 + domjobabort after 3s: still running on lab-$a" \
      "$(secs_since "$t")s, ${processed:-?} sent; $(grep -m1 -o 'error: .*' "$out" || true)"
  else
    fail "--bandwidth 1 + domjobabort leaves guest on source" \
      "rc=$rc src=$(dom_state "$a" "$gd") dst=$(dom_state "$b" "$gd") $(tr '\n' ' ' <"$out")"
  fi
}

# Post-copy: pre-copy cannot converge for this guest; switch after the first pass.
check_postcopy() { # A B GUEST
  local a=$1 b=$2 gd=$3 pc
  if migrate "$a" "$b" "$gd" --postcopy --postcopy-after-precopy && on_host "$b" "$gd" running \
    && [[ $(dom_state "$a" "$gd") == absent ]]; then
    pc=$(virsh -c "$(uri "$b")" domjobinfo --completed "$gd" 2>/dev/null | sed -n 's/^Postcopy requests: *//p')
    pass "post-copy migrate lab-$a -> lab-$b of the dirtying guest" "${LAST_SECS}s${pc:+, postcopy page requests: $pc}"
  else fail "post-copy migrate lab-$a -> lab-$b" "$LAST_OUT"; fi
}

# Bridges: a guest on br-storage cannot go to a host without that bridge.
check_bridges() {
  local gb=selftest-br
  remove_guest_everywhere "$gb"
  if ! { create_guest 1 "$gb" 64 br-storage && on_host 1 "$gb" running; }; then
    fail "define+start $gb on lab-1 (bridge br-storage)"
    remove_guest_everywhere "$gb"
    return 0
  fi
  if migrate 1 4 "$gb"; then
    fail "migrate bridged guest to lab-4 (no br-storage) is refused" "it migrated"
  elif on_host 1 "$gb" running && [[ $(dom_state 4 "$gb") == absent ]]; then
    pass "libvirt refuses lab-1 -> lab-4 for a guest on br-storage" \
      "${LAST_SECS}s; $(grep -m1 -o 'error: .*' <<<"$LAST_OUT" | tail -n1)"
  else
    fail "refused migration leaves guest on lab-1" "src=$(dom_state 1 "$gb") dst=$(dom_state 4 "$gb")"
  fi
  if migrate 1 3 "$gb" && on_host 3 "$gb" running; then
    pass "same guest migrates lab-1 -> lab-3 (has br-storage)" "${LAST_SECS}s"
  else fail "bridged guest migrates lab-1 -> lab-3" "$LAST_OUT"; fi
  remove_guest_everywhere "$gb"
}

# ---------------------------------------------------------------------- faults
# The operations the fault-matrix tests use, through the command line, on host K running G.

check_faults() { # K G
  local k=$1 g=$2
  if ! on_host "$k" "$g" running || [[ -z $(guest_qemu_pid "$k" "$g") ]]; then
    fail "fault checks need $g running on lab-$k" "state $(dom_state "$k" "$g")"
    return 0
  fi
  check_freeze_thaw "$k"
  check_kill_host "$k" "$g"
  check_kill_guest "$k" "$g"
}

check_freeze_thaw() { # K
  local k=$1 pid t
  pid=$(libvirtd_pid "$k")
  if lab_command freeze-host "$k" && [[ $(proc_state "$pid") == T ]] \
    && ! virsh_within 1 -q -c "$(uri "$k")" version >/dev/null 2>&1; then
    pass "freeze-host $k: libvirtd $pid stopped, virsh gets no answer in 1s" "$LAST_OUT"
  else fail "freeze-host $k stops libvirtd $pid" "state $(proc_state "$pid"); $LAST_OUT"; fi
  t=$(now_ms)
  if lab_command thaw-host "$k" && virsh_within 10 -q -c "$(uri "$k")" version >/dev/null 2>&1; then
    pass "thaw-host $k: libvirtd $pid answers again" "$(secs_since "$t")s"
  else fail "thaw-host $k: libvirtd $pid answers again" "state $(proc_state "$pid"); $LAST_OUT"; fi
}

check_kill_host() { # K G
  local k=$1 g=$2 qpid t
  qpid=$(guest_qemu_pid "$k" "$g")
  if lab_command kill-host "$k" && [[ -z $(daemon_pid "$k") ]] && kill -0 "$qpid" 2>/dev/null; then
    pass "kill-host $k: libvirtd gone, $g's QEMU $qpid still running" "$LAST_OUT"
  else fail "kill-host $k kills libvirtd only" "$LAST_OUT"; fi
  t=$(now_ms)
  if lab_command start-host "$k" && on_host "$k" "$g" running && [[ $(guest_qemu_pid "$k" "$g") == "$qpid" ]]; then
    pass "start-host $k after kill-host: $g found running (QEMU $qpid)" "$(secs_since "$t")s"
  else fail "start-host $k after kill-host finds $g running" "state $(dom_state "$k" "$g"); $LAST_OUT"; fi
}

check_kill_guest() { # K G
  local k=$1 g=$2 qpid deadline state
  qpid=$(guest_qemu_pid "$k" "$g")
  lab_command kill-guest "$g" || { fail "kill-guest $g" "$LAST_OUT"; return 0; }
  deadline=$(($(date +%s) + 10))
  while state=$(dom_state "$k" "$g"); [[ $state == running ]] && (($(date +%s) < deadline)); do sleep 0.1; done
  if [[ $state == "shut off" && -z $(guest_qemu_pid "$k" "$g") ]]; then
    pass "kill-guest $g: QEMU $qpid killed, lab-$k reports it shut off" "$LAST_OUT"
  else fail "kill-guest $g: lab-$k notices its QEMU $qpid died" "state $state; $LAST_OUT"; fi
}
