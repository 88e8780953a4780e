#!/usr/bin/env bash
# The RSA ceiling of a v2/v3 answer on one core: an answer costs one RSA-2048 verify (the
# request) and one sign (the answer), so the most answers/s a core can give is
#   1 / (1/sign + 1/verify)
# with sign/s and verify/s from `openssl speed -seconds 3 rsa2048` on the server's core.
#
#   bash bench/rsa-ceiling.sh
source "$(dirname "$0")/lib/common.sh"
need openssl taskset

load=$(wait_quiet)
log "openssl speed -seconds 3 rsa2048 on core ${SERVER_CPUS%%,*} ($load)"
measure_rsa 3
sign=$RSA_SIGN verify=$RSA_VERIFY ceiling=$RSA_CEILING
ver=$(openssl version | cut -d' ' -f1,2)

record bench=rsa-ceiling sign_per_s="$sign" verify_per_s="$verify" ceiling="$ceiling" load="$load"

printf '\nRSA-2048 on one core (%s, %s)\n' "$ver" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| %-34s | %12s |\n' "measure" "per second"
printf '|%s|%s|\n' "------------------------------------" "--------------"
printf '| %-34s | %12s |\n' "sign (SHA256withRSA)" "$(fmt_int "$sign")"
printf '| %-34s | %12s |\n' "verify" "$(fmt_int "$verify")"
printf '| %-34s | %12s |\n' "ceiling 1/(1/sign + 1/verify)" "$(fmt_int "$ceiling")"
printf '| %-34s | %12s |\n' "90 % target for v2/v3 answers" "$(fmt_int "$(awk -v c="$ceiling" 'BEGIN{print 0.9*c}')")"
printf '(machine before the run: %s)\n' "$load"
