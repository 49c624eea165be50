#!/usr/bin/env bash
# Generates the Kotlin, Swift and Python bindings of gridsync-ffi into target/bindings/<lang>.
#
#   mobile-ffi/bindgen.sh                  # all three
#   mobile-ffi/bindgen.sh kotlin python    # some
#
# The bindings are read from the metadata UniFFI embeds in the library, so they are generated
# from the unstripped debug build; they work unchanged with the stripped release libraries
# (`--profile mobile`) that ship in the apps. The Python output also gets the .so
# linked next to it, so `PYTHONPATH=target/bindings/python python3 -c 'import gridsync_ffi'` works.
# Generated code is not committed (target/ is ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

langs=("$@")
if [ ${#langs[@]} -eq 0 ]; then langs=(kotlin swift python); fi

case "$(uname -s)" in
  Darwin) lib=libgridsync_ffi.dylib ;;
  *) lib=libgridsync_ffi.so ;;
esac
target_dir="${CARGO_TARGET_DIR:-target}"

cargo build -p gridsync-ffi
for lang in "${langs[@]}"; do
  case "$lang" in kotlin|swift|python) ;; *) echo "unknown language: $lang" >&2; exit 2 ;; esac
  out="$target_dir/bindings/$lang"
  rm -rf "$out"
  cargo run -q -p gridsync-ffi --bin uniffi-bindgen -- \
    generate "$target_dir/debug/$lib" --language "$lang" --out-dir "$out"
  # A link, not a copy: the unstripped debug library is large.
  if [ "$lang" = python ]; then ln -sf "$(cd "$target_dir/debug" && pwd)/$lib" "$out/$lib"; fi
  echo "$lang -> $out"
done
