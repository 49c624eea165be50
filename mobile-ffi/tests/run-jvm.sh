#!/usr/bin/env bash
# Compiles the Kotlin field scenario against the generated Kotlin bindings and JNA, and runs
# it on the JVM with the Linux .so: what an Android app does, minus Android.
#
#   KOTLINC=.../kotlinc-jvm JNA_JAR=/usr/share/java/jna.jar mobile-ffi/tests/run-jvm.sh [SERVER_URL]
#
# Without SERVER_URL only the offline checks run (typed errors for bad input); with it, the
# whole scenario against that center (`gridsync serve --demo`). Installs nothing: KOTLINC is
# `kotlinc-jvm` (npm package `kotlin-compiler`, `node_modules/kotlin-compiler/bin/kotlinc-jvm`)
# and JNA_JAR a JNA ≥ 5.12 jar (Debian `libjna-java`: /usr/share/java/jna.jar). Java 11+.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${KOTLINC:?set KOTLINC to kotlinc-jvm (npm package kotlin-compiler)}"
: "${JNA_JAR:?set JNA_JAR to a JNA jar, e.g. /usr/share/java/jna.jar}"
target_dir="${CARGO_TARGET_DIR:-target}"

mobile-ffi/bindgen.sh kotlin
out="$target_dir/jvm-scenario"
mkdir -p "$out"
"$KOTLINC" -nowarn -cp "$JNA_JAR" -include-runtime -d "$out/scenario.jar" \
  "$target_dir/bindings/kotlin/org/gridsync/ffi/gridsync_ffi.kt" \
  mobile-ffi/tests/kotlin/*.kt
# JNA finds libgridsync_ffi.so through jna.library.path.
exec java -Djna.library.path="$target_dir/debug" -cp "$out/scenario.jar:$JNA_JAR" ScenarioKt "$@"
