#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-config.sh FRAGMENT DOTCONFIG
#
# Kconfig silently drops options whose dependencies are not met. Fail
# loudly instead: every CONFIG_X=value in the fragment must be exactly so
# in .config, every "# CONFIG_X is not set" must be unset there.

set -euo pipefail

frag=$1
conf=$2
bad=0

while IFS= read -r line; do
	if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
		opt=${BASH_REMATCH[1]}
		if ! grep -qxF "$line" "$conf"; then
			got=$(grep -E "^$opt=|^# $opt is not set" "$conf" || echo "absent")
			echo "check-config: $line requested, got: $got" >&2
			bad=1
		fi
	elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
		opt=${BASH_REMATCH[1]}
		if grep -qE "^$opt=" "$conf"; then
			echo "check-config: $opt off requested, got: $(grep -E "^$opt=" "$conf")" >&2
			bad=1
		fi
	fi
done < "$frag"

if [ $bad -ne 0 ]; then
	echo "check-config: $frag did not apply; see the lines above" >&2
	mv -f "$conf" "$conf.rejected"	# so the next make retries
	exit 1
fi
echo "  CHECK   $(grep -cE '^CONFIG_' "$frag") set and $(grep -cE '^# CONFIG_.* is not set$' "$frag") unset options all took effect"
