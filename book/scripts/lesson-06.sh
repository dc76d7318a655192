#!/usr/bin/env bash
# The lab of chapter 6: each failure of a network, made on purpose, inside a network namespace
# of its own, and what the programs, tcpdump, ss and nstat show of it.
#
#   book/scripts/regen-output.sh lesson-06      (or: sudo bash book/scripts/lesson-06.sh OUTDIR)
#
# Needs root (network namespaces, nftables), and ip, nft, tcpdump, ss, nstat, nc. Without them it
# says so and leaves the committed output as it was. Everything happens in a namespace created
# here (name: l06lab-PID) on its loopback, 127.0.0.1: nothing outside it is ever a target. The
# namespace is removed on every exit, failure included. Failures are made with nftables rules
# on the namespace's INPUT hook: a packet dropped there has already passed tcpdump on lo, so the
# capture shows what was sent, and the rule decides what arrives. Each step is bounded by
# `timeout`; the whole lab takes about two minutes.
set -uo pipefail
out=${1:?usage: lesson-06.sh OUTDIR}
. "$(dirname "$0")/common.sh"
mkdir -p "$out" && out=$(realpath "$out")
cd "$(dirname "$0")/../.."
root=$(pwd)
server=$root/target/debug/lesson-06
client=$root/target/debug/lesson-06-client
ns=l06lab-$$
tmp=$(mktemp -d)
background=()
# nstat keeps the last values it printed in a history file, by default one per user: a file of
# our own keeps another nstat on this machine from disturbing the increments.
export NSTAT_HISTORY=$tmp/nstat.history

cleanup() {
  stop_server KILL
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The exercise report on the unsolved stubs, as a learner first sees it. It needs no root, so
# it runs first, for everyone.
bounded 300 bash book/scripts/exercise-report.bash lesson-06 "$out" ||
  { note "the exercise report failed"; exit 1; }

if [ "$(id -u)" != 0 ]; then
  note "needs root for a network namespace and nftables; leaving $out as it was"
  exit 0
fi
for tool in ip nft tcpdump ss nstat nc timeout; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    note "$tool is not installed; leaving $out as it was"
    exit 0
  fi
done
[ -x "$server" ] && [ -x "$client" ] || { note "build first: cargo build -p lesson-06"; exit 1; }

# ---------------------------------------------------------------------------------------------
# The namespace, its loopback, and an empty nftables chain on its INPUT hook.
timeout 10 ip netns add "$ns" || exit 1
inns() { ip netns exec "$ns" "$@"; }
timeout 10 ip -n "$ns" link set lo up
timeout 10 ip netns exec "$ns" nft -f - <<'NFT' || exit 1
table inet lab {
  chain in {
    type filter hook input priority 0; policy accept;
  }
}
NFT
rule() { timeout 5 ip netns exec "$ns" nft add rule inet lab in "$@"; }
# Every segment of port 9000, both ways: a cut cable, or a host that died without a word.
cut() { rule tcp dport 9000 drop && rule tcp sport 9000 drop; }
lift() { timeout 5 ip netns exec "$ns" nft flush chain inet lab in; }

t0=$(date +%s.%N)
# Seconds since $t0, e.g. ` 12.3`.
now() { awk -v t0="$t0" -v t="$(date +%s.%N)" 'BEGIN { printf "%5.1f", t - t0 }'; }
mark() { t0=$(date +%s.%N); }
say() { echo "[$(now)s] $*"; }

# start_lab_server LOG SECONDS ARGS...: the server on 127.0.0.1:9000 in the namespace, for at
# most SECONDS (common.sh's start_server).
start_lab_server() {
  local log=$1 limit=$2
  shift 2
  start_server "$log" "$limit" ip netns exec "$ns" "$server" --addr 127.0.0.1:9000 "$@"
}

# capture FILE SECONDS FILTER...: tcpdump on the namespace's lo, times since its first packet.
capture() {
  local file=$1 limit=$2
  shift 2
  ip netns exec "$ns" timeout "$limit" tcpdump -i lo -n -l --immediate-mode -ttttt "$@" >"$file" 2>"$file.err" &
  capture_pid=$!
  background+=("$capture_pid")
  wait_for "$file.err" "listening on"
}
stop_capture() { sleep 0.5; kill "$capture_pid" 2>/dev/null; wait "$capture_pid" 2>/dev/null; }

# The increments of these counters since the last `inns nstat -n` (zeros included).
counters() { inns nstat -z "$@" | awk 'NR > 1 { printf "  %-24s %s\n", $1, $2 }'; }

# ---------------------------------------------------------------------------------------------
step_loss() {
  local f=$out/loss.txt
  echo "== loss.txt"
  start_lab_server "$tmp/loss-server.log" 60 --keepalive-idle 30 || return
  inns nstat -n  # start the counters from zero
  rule tcp dport 9000 numgen random mod 100 '<' 30 drop
  capture "$tmp/loss.pcap.txt" 40 'tcp port 9000 and tcp[tcpflags] & tcp-push != 0'
  {
    echo "# nft add rule inet lab in tcp dport 9000 numgen random mod 100 < 30 drop"
    echo "# (about 30 of every 100 segments to the server are dropped on arrival)"
    echo "\$ lesson-06-client --addr 127.0.0.1:9000 --hold 2 one two three four five six seven eight"
    mark
    inns timeout 60 "$client" --addr 127.0.0.1:9000 --hold 2 --keepalive-idle 30 \
      one two three four five six seven eight 2>&1 | while IFS= read -r l; do say "$l"; done &
    local run=$!
    sleep 1.5
    echo
    echo "# meanwhile: ss -tin '( dport = :9000 )' (the client's end)"
    inns ss -tinH '( dport = :9000 )' | sed 's/^/  /'
    wait "$run"
  } >"$f.run"
  stop_capture
  lift
  {
    cat "$f.run"
    echo
    echo "# nstat TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPLossProbes (since the step began)"
    counters TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPLossProbes
    echo
    echo "# tcpdump -ttttt 'tcp port 9000' (segments that carry data; seconds since the first)"
    head -n 40 "$tmp/loss.pcap.txt"
  } >"$f"
  rm -f "$f.run"
  stop_server
}

step_bulk_loss() {
  local f=$out/bulk-loss.txt
  echo "== bulk-loss.txt"
  ip netns exec "$ns" timeout 30 nc -l 127.0.0.1 9001 >/dev/null &
  local sink=$!
  background+=("$sink")
  sleep 0.5
  inns nstat -n
  rule tcp dport 9001 numgen random mod 100 '<' 2 drop
  {
    echo "# nft add rule inet lab in tcp dport 9001 numgen random mod 100 < 2 drop"
    echo "\$ head -c 200M /dev/zero | nc -N 127.0.0.1 9001"
    mark
    inns timeout 30 sh -c 'head -c 200M /dev/zero | nc -N 127.0.0.1 9001'
    echo "[$(now)s] done (exit status $?)"
    echo
    echo "# nstat: many segments in flight, so most losses are repaired by fast retransmit"
    echo "# (three duplicate ACKs, SACK) instead of waiting for the retransmission timer"
    counters TcpOutSegs TcpRetransSegs TcpExtTCPFastRetrans TcpExtTCPSackRecovery TcpExtTCPTimeouts
  } >"$f"
  lift
  wait "$sink" 2>/dev/null
}

step_keepalive() {
  local f=$out/keepalive.txt
  echo "== keepalive.txt"
  start_lab_server "$tmp/ka-server.log" 30 --keepalive-idle 2 --keepalive-interval 1 \
    --keepalive-count 3 || return
  capture "$tmp/ka.pcap.txt" 20 'tcp port 9000'
  {
    echo "\$ lesson-06 --addr 127.0.0.1:9000 --keepalive-idle 2 --keepalive-interval 1 --keepalive-count 3"
    echo "\$ lesson-06-client --addr 127.0.0.1:9000 --hold 7 --keepalive-idle 30 hello"
    ip netns exec "$ns" timeout 20 "$client" --addr 127.0.0.1:9000 --hold 7 --keepalive-idle 30 hello 2>&1 &
    local run=$!
    sleep 1
    echo
    echo "# ss -tno state established '( sport = :9000 )': the server's end and its timer"
    inns ss -tnoH state established '( sport = :9000 )' | sed 's/^/  /'
    sleep 2.5
    inns ss -tnoH state established '( sport = :9000 )' | sed 's/^/  /'
    wait "$run"
  } >"$f.run"
  stop_capture
  {
    cat "$f.run"
    echo
    echo "# tcpdump -ttttt 'tcp port 9000': after the exchange, every 2 s of silence the server"
    echo "# sends a probe (a segment with no data, one byte behind; tcpdump prints no seq for it),"
    echo "# and the client ACKs it"
    cat "$tmp/ka.pcap.txt"
  } >"$f"
  rm -f "$f.run"
  stop_server
}

step_zero_window() {
  local f=$out/zero-window.txt
  echo "== zero-window.txt"
  start_lab_server "$tmp/zw-server.log" 40 --idle-timeout 6 --keepalive-idle 30 || return
  capture "$tmp/zw.pcap.txt" 30 'tcp port 9000 and tcp[14:2] = 0'
  # The reader that stops: bash opens a connection (its /dev/tcp) and only writes to it, never
  # reads. Its receive buffer fills with the server's replies, its window drops to zero, the
  # server's send buffer fills, and the server's write() blocks.
  # 20,000 lines of 1,000 x: more than all those buffers hold.
  yes "$(head -c 1000 /dev/zero | tr '\0' x)" | head -n 20000 >"$tmp/lines"
  ip netns exec "$ns" timeout 25 bash -c "exec 3<>/dev/tcp/127.0.0.1/9000; cat '$tmp/lines' >&3 2>/dev/null; sleep 20" &
  local reader=$!
  background+=("$reader")
  {
    echo "\$ lesson-06 --addr 127.0.0.1:9000 --idle-timeout 6"
    echo "\$ bash -c 'exec 3<>/dev/tcp/127.0.0.1/9000; cat lines >&3; sleep 20'   (20,000 lines of 1,000 x; never reads)"
    mark
    for _ in 1 2 3; do
      sleep 1
      echo
      echo "[$(now)s] ss -tnoi '( sport = :9000 )': the server's end (Send-Q: written, not yet acknowledged)"
      inns ss -tnoH state established '( sport = :9000 )' | sed 's/^/  /'
    done
    wait_for "$tmp/zw-server.log" "stopped reading" 15
    echo
    echo "[$(now)s] the server's log:"
    grep -v "message" "$tmp/zw-server.log" | sed 's/^/  /'
  } >"$f.run"
  stop_capture
  {
    cat "$f.run"
    echo
    echo "# tcpdump -ttttt 'tcp port 9000 and tcp[14:2] = 0': segments advertising a zero window"
    echo "# (win 0); the first 6, then the last ones: window probes, further and further apart"
    head -n 6 "$tmp/zw.pcap.txt"
    echo "  ..."
    tail -n 10 "$tmp/zw.pcap.txt"
  } >"$f"
  rm -f "$f.run"
  kill "$reader" 2>/dev/null
  stop_server
  wait "$reader" 2>/dev/null
}

step_vanished() {
  local f=$out/vanished.txt
  echo "== vanished.txt"
  start_lab_server "$tmp/v-server.log" 40 --keepalive-idle 2 --keepalive-interval 1 \
    --keepalive-count 3 --user-timeout 0 || return
  capture "$tmp/v.pcap.txt" 30 'tcp port 9000'
  ip netns exec "$ns" timeout 25 "$client" --addr 127.0.0.1:9000 --hold 20 --keepalive-idle 30 hello \
    >"$tmp/v-client.log" 2>&1 &
  local held=$!
  background+=("$held")
  wait_for "$tmp/v-client.log" "holding"
  {
    echo "\$ lesson-06 --addr 127.0.0.1:9000 --keepalive-idle 2 --keepalive-interval 1 --keepalive-count 3 --user-timeout 0"
    echo "\$ lesson-06-client --addr 127.0.0.1:9000 --hold 20 hello"
    mark
    cut
    say "nft add rule inet lab in tcp dport 9000 drop; ... tcp sport 9000 drop   (the client's host is gone, without a word)"
    wait_for "$tmp/v-server.log" "stopped answering" 20
    say "the server's log:"
    sed 's/^/  /' "$tmp/v-server.log"
  } >"$f.run"
  stop_capture
  lift
  {
    cat "$f.run"
    echo
    echo "# tcpdump -ttttt 'tcp port 9000': the exchange, then the server's probes, unanswered"
    cat "$tmp/v.pcap.txt"
  } >"$f"
  rm -f "$f.run"
  kill "$held" 2>/dev/null
  stop_server
  wait "$held" 2>/dev/null
}

step_user_timeout() {
  local f=$out/user-timeout.txt
  echo "== user-timeout.txt"
  start_lab_server "$tmp/u-server.log" 40 --keepalive-idle 30 || return
  inns nstat -n
  capture "$tmp/u.pcap.txt" 30 'tcp port 9000'
  {
    echo "\$ (echo one; sleep 2; echo two) | lesson-06-client --addr 127.0.0.1:9000 --user-timeout 3 --connect-timeout 2 --attempts 2 --backoff-ms 500 --keepalive-idle 30"
    echo "# at 1 s: nft add rule inet lab in tcp dport 9000 drop; ... tcp sport 9000 drop"
    mark
    ( sleep 1; cut ) &
    inns timeout 30 sh -c "(echo one; sleep 2; echo two) | '$client' --addr 127.0.0.1:9000 \
      --user-timeout 3 --connect-timeout 2 --attempts 2 --backoff-ms 500 --keepalive-idle 30" 2>&1 |
      while IFS= read -r l; do say "$l"; done
    wait
  } >"$f.run"
  stop_capture
  lift
  {
    cat "$f.run"
    echo
    echo "# nstat TcpRetransSegs TcpExtTCPLossProbes TcpExtTCPTimeouts (since the step began)"
    counters TcpRetransSegs TcpExtTCPLossProbes TcpExtTCPTimeouts
    echo
    echo "# tcpdump -ttttt 'tcp port 9000': \"two\" retransmitted with a doubling timeout until the"
    echo "# user timeout (3 s) ends the connection; then the reconnect's SYNs, unanswered"
    cat "$tmp/u.pcap.txt"
  } >"$f"
  rm -f "$f.run"
  stop_server
}

step_reset() {
  local f=$out/reset.txt
  echo "== reset.txt"
  start_lab_server "$tmp/r-server.log" 40 --keepalive-idle 30 || return
  ip netns exec "$ns" timeout 30 "$client" --addr 127.0.0.1:9000 --hold 25 --keepalive-idle 2 \
    --keepalive-interval 1 hello >"$tmp/r-client.log" 2>&1 &
  local held=$!
  background+=("$held")
  wait_for "$tmp/r-client.log" "holding"
  capture "$tmp/r.pcap.txt" 30 'tcp port 9000'
  {
    echo "\$ lesson-06-client --addr 127.0.0.1:9000 --hold 25 --keepalive-idle 2 --keepalive-interval 1 hello"
    mark
    cut
    say "nft add rule inet lab in tcp dport 9000 drop; ... tcp sport 9000 drop"
    stop_server KILL
    say "kill -9 the server: its kernel sends FIN, which the rule drops"
    inns ss -tnH '( sport = :9000 )' | sed 's/^/    /'
    inns ss -K -tnH '( sport = :9000 )' >/dev/null
    say "ss -K '( sport = :9000 )': the server's kernel forgets the connection (as a reboot would)"
    start_lab_server "$tmp/r-server2.log" 30 --keepalive-idle 30
    say "a new server listens on 127.0.0.1:9000"
    lift
    say "nft flush chain inet lab in: the network is back"
    wait "$held"
    say "the client's output:"
    sed 's/^/  /' "$tmp/r-client.log"
  } >"$f.run"
  stop_capture
  {
    cat "$f.run"
    echo
    echo "# tcpdump -ttttt 'tcp port 9000' from the cut: the FIN and ss -K's RST (both dropped), then the client's first probe"
    echo "# (dropped), and after the cut is lifted, the probe that the new server's host answers with RST"
    cat "$tmp/r.pcap.txt"
  } >"$f"
  rm -f "$f.run"
  stop_server
}

step_overflow() {
  local f=$out/overflow.txt
  echo "== overflow.txt"
  start_lab_server "$tmp/o-server.log" 30 --max-clients 1 --backlog 1 --keepalive-idle 30 || return
  inns nstat -n
  local pids=()
  {
    echo "\$ lesson-06 --addr 127.0.0.1:9000 --max-clients 1 --backlog 1 --keepalive-idle 30"
    echo "\$ lesson-06-client --addr 127.0.0.1:9000 --hold 8 --attempts 1 --connect-timeout 4 'client N'   # N = 1 to 6, 0.2 s apart"
    echo "# six clients that connect and stay; the server serves one, listen(1) queues two"
    for i in 1 2 3 4 5 6; do
      ip netns exec "$ns" timeout 12 "$client" --addr 127.0.0.1:9000 --hold 8 --attempts 1 --connect-timeout 4 \
        "client $i" >"$tmp/o-client-$i.log" 2>&1 &
      pids+=($!)
      sleep 0.2
    done
    sleep 1
    echo
    echo "# ss -tln '( sport = :9000 )': Recv-Q = connections waiting for accept(), Send-Q = the backlog"
    inns ss -tlnH '( sport = :9000 )' | sed 's/^/  /'
    echo
    echo "# nstat ListenOverflows ListenDrops: SYNs dropped because the accept queue was full"
    counters TcpExtListenOverflows TcpExtListenDrops
    wait "${pids[@]}"
    echo
    for i in 1 2 3 4 5 6; do echo "client $i: $(tr '\n' ' ' <"$tmp/o-client-$i.log")"; done
  } >"$f"
  stop_server
}

step_syn_retries() {
  local f=$out/syn-retries.txt
  echo "== syn-retries.txt"
  rule tcp dport 9002 drop
  {
    echo "# nft add rule inet lab in tcp dport 9002 drop; sysctl net.ipv4.tcp_syn_retries=3"
    inns sysctl -q net.ipv4.tcp_syn_retries=3
    for linear in 4 0; do
      inns sysctl -q net.ipv4.tcp_syn_linear_timeouts=$linear
      echo
      echo "# net.ipv4.tcp_syn_linear_timeouts = $linear"
      capture "$tmp/s$linear.pcap.txt" 40 'tcp dst port 9002'
      mark
      inns timeout 40 "$client" --addr 127.0.0.1:9002 --attempts 1 --connect-timeout 60 hi 2>&1 |
        while IFS= read -r l; do say "$l"; done
      stop_capture
      echo "# tcpdump -ttttt 'tcp dst port 9002': the SYN and its retries"
      sed 's/^/  /' "$tmp/s$linear.pcap.txt"
    done
  } >"$f"
  lift
}

step_refused() {
  local f=$out/refused.txt
  echo "== refused.txt"
  {
    echo "\$ lesson-06-client --addr 127.0.0.1:9003 --attempts 3 hi      (nobody listens on 9003)"
    inns timeout 20 "$client" --addr 127.0.0.1:9003 --attempts 3 hi 2>&1
  } >"$f"
}

case "${2:-all}" in
  all) steps="loss bulk_loss keepalive zero_window vanished user_timeout reset overflow syn_retries refused" ;;
  *) steps=$2 ;;
esac
for s in $steps; do
  "step_$s"
done
echo "lab done in namespace $ns; it is removed on exit"
