#!/bin/sh
# Write mosquitto's password file from environment secrets (never from the repository).
#
# Run at compose-up by the "passwd" service. Users: engine, supervisor, healthcheck, and
# agent desktops AGENT_PREFIX-001 … AGENT_PREFIX-NNN (user name = agent id, as the ACL's
# %u patterns expect), all agents sharing DIALGUARD_AGENT_PASSWORD in this demo stack.
# Usage: make-passwords.sh OUT_FILE
set -eu

out=${1:?usage: make-passwords.sh OUT_FILE}
: "${DIALGUARD_ENGINE_MQTT_PASSWORD:?set DIALGUARD_ENGINE_MQTT_PASSWORD}"
: "${DIALGUARD_SUPERVISOR_MQTT_PASSWORD:?set DIALGUARD_SUPERVISOR_MQTT_PASSWORD}"
: "${DIALGUARD_AGENT_PASSWORD:?set DIALGUARD_AGENT_PASSWORD}"
: "${DIALGUARD_HEALTHCHECK_MQTT_PASSWORD:=healthcheck}"
agents=${DIALGUARD_AGENTS:-5}
prefix=${DIALGUARD_AGENT_PREFIX:-agent}

umask 077
tmp="$out.tmp"
: > "$tmp"
mosquitto_passwd -b "$tmp" engine "$DIALGUARD_ENGINE_MQTT_PASSWORD"
mosquitto_passwd -b "$tmp" supervisor "$DIALGUARD_SUPERVISOR_MQTT_PASSWORD"
mosquitto_passwd -b "$tmp" healthcheck "$DIALGUARD_HEALTHCHECK_MQTT_PASSWORD"
i=1
while [ "$i" -le "$agents" ]; do
  mosquitto_passwd -b "$tmp" "$(printf '%s-%03d' "$prefix" "$i")" "$DIALGUARD_AGENT_PASSWORD"
  i=$((i + 1))
done
mv "$tmp" "$out"
chmod 0640 "$out"
if [ -n "${FILE_OWNER:-}" ]; then chown "$FILE_OWNER" "$out"; fi
echo "make-passwords: $((agents + 3)) users written to $out"
