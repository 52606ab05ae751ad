# shellcheck shell=bash
# Ports for servers a script starts. Sourced by the scripts beside it.

# free_ports N: prints the first of N consecutive ports that no socket uses, below the
# kernel's ephemeral range. Outgoing connections take their local ports from that range, so
# a port picked inside it, even one the kernel has just handed out, can be taken by one
# before the server binds it.
free_ports() {
  local count=$1 ephemeral_from first taken
  ephemeral_from=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 1 50); do
    first=$((10000 + RANDOM % (ephemeral_from - 10000 - count)))
    taken=$(for port in $(seq "$first" $((first + count - 1))); do ss -Htan "( sport = :$port )" 2>/dev/null; done)
    if [ -z "$taken" ]; then
      echo "$first"
      return 0
    fi
  done
  echo "found no $count free consecutive ports" >&2
  return 1
}
