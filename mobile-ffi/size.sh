#!/usr/bin/env bash
# Builds the library the way it ships (for this machine's target), strips a copy and prints
# its size: the figure BENCHMARKS.md reports for x86_64 Linux.
#
#   mobile-ffi/size.sh
#
# Shipping builds differ from `cargo build` in three ways, all in the command below:
# - profile `mobile` (opt-level "z", LTO, one codegen unit; panic stays "unwind");
# - `--no-default-features`: the bindings generator is not part of the library;
# - the cdylib alone (`cargo rustc --crate-type cdylib`; iOS: `staticlib`). Built together
#   with the staticlib and rlib that `crate-type` also lists, the same .so comes out about
#   1.2 MB larger (6.4 vs 5.2 MB stripped on x86_64 Linux), because LTO then keeps more.
# And off Apple, SQLCipher's libcrypto is the minimal one from mobile-ffi/openssl-min.sh (built
# here if missing), not the full OpenSSL that `openssl-src` vendors: the environment below
# makes openssl-sys link it, and libsqlite3-sys compiles SQLCipher against its headers.
# Stripping removes the UniFFI metadata too: generate bindings from the debug build
# (mobile-ffi/bindgen.sh); they work with the stripped library.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"

minimal=false
case "$(uname -s)" in
  Darwin) lib=libgridsync_ffi.dylib; strip_cmd=(strip -x) ;;
  *) lib=libgridsync_ffi.so; strip_cmd=(strip); minimal=true ;;
esac

if $minimal; then
  triple=$(rustc -vV | sed -n 's/^host: //p')
  mobile-ffi/openssl-min.sh "$triple"
  # OPENSSL_NO_VENDOR wins over openssl-sys' `vendored` feature (which rusqlite's
  # `bundled-sqlcipher-vendored-openssl` turns on); libcrypto alone, statically.
  export OPENSSL_NO_VENDOR=1 OPENSSL_STATIC=1 OPENSSL_LIBS=crypto
  OPENSSL_DIR="$(cd "$target_dir/openssl-min/$triple" && pwd)"
  export OPENSSL_DIR
fi

cargo rustc -p gridsync-ffi --profile mobile --no-default-features --lib --crate-type cdylib

if $minimal; then
  # The full libcrypto would bring its elliptic curves (the default provider lists them);
  # the minimal one has none. Checked on the unstripped library, which keeps the symbols
  # (grep reads to the end, not -q: under pipefail nm's SIGPIPE would hide a match).
  if nm "$target_dir/mobile/$lib" | grep ossl_ec_keymgmt_functions >/dev/null; then
    echo "size.sh: $lib linked a full libcrypto, not $OPENSSL_DIR" >&2
    exit 1
  fi
fi
out="$target_dir/mobile/stripped"
mkdir -p "$out"
cp "$target_dir/mobile/$lib" "$out/$lib"
"${strip_cmd[@]}" "$out/$lib"
bytes=$(wc -c < "$out/$lib")
echo "$out/$lib: $bytes bytes ($(awk "BEGIN { printf \"%.2f\", $bytes / 1048576 }") MiB) stripped"
