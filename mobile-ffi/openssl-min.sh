#!/usr/bin/env bash
# Builds a minimal static OpenSSL libcrypto for SQLCipher and installs it (lib/ + include/)
# into target/openssl-min/<triple>, for mobile-ffi/size.sh and the Android builds:
#
#   mobile-ffi/openssl-min.sh                          # this machine's target
#   mobile-ffi/openssl-min.sh aarch64-linux-android    # needs ANDROID_NDK_ROOT (or _HOME)
#
# Why: OpenSSL 3 reaches every algorithm through its provider tables, so a full libcrypto
# linked statically stays almost whole in the library: 10.2 MB stripped on x86_64 Linux with
# the one `openssl-src` vendors, 7.1 MB with this one (docs/mobile.md, "Size"). SQLCipher
# needs AES-256-CBC, HMAC-SHA1/256/512, PBKDF2 and RAND_bytes; the `no-*` options below
# compile out most of the rest. Use it by building with
#   OPENSSL_NO_VENDOR=1 OPENSSL_STATIC=1 OPENSSL_LIBS=crypto OPENSSL_DIR=target/openssl-min/<triple>
# (for a cross target, `<TRIPLE>_OPENSSL_DIR`, e.g. AARCH64_LINUX_ANDROID_OPENSSL_DIR):
# openssl-sys then links it instead of building `openssl-src`, and libsqlite3-sys compiles
# SQLCipher against its headers. iOS needs none of this: SQLCipher uses CommonCrypto there.
#
# The source is the one the `openssl-src` crate in Cargo.lock carries (cargo's registry, no
# download), built out of tree: the registry copy stays untouched. Nothing is rebuilt while
# target/openssl-min/<triple> comes from the same source, options and script.
#
# Environment: JOBS (make -j, default 2), ANDROID_API (default 24, as in docs/mobile.md),
# CARGO_TARGET_DIR.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd)"

triple="${1:-$(rustc -vV | sed -n 's/^host: //p')}"

# The openssl-src package that Cargo.lock resolves (cargo fetches it into the registry if
# it is not there yet); its `openssl/` folder is OpenSSL's source tree.
manifest=$(cargo metadata --format-version 1 --locked |
  grep -o '"manifest_path":"[^"]*/openssl-src-[^"/]*/Cargo.toml"' | head -n 1 |
  sed 's/^"manifest_path":"//; s/"$//')
src="$(dirname "$manifest")/openssl"
if [ -z "$manifest" ] || [ ! -f "$src/Configure" ]; then
  echo "openssl-min.sh: OpenSSL source of the openssl-src crate not found" >&2
  exit 1
fi

# OpenSSL's own target names (`./Configure LIST`). Android: OpenSSL's android-* targets,
# which find the NDK's clang on PATH and take the API level from -D__ANDROID_API__.
android=false
case "$triple" in
  x86_64-unknown-linux-gnu) os="linux-x86_64" ;;
  aarch64-unknown-linux-gnu) os="linux-aarch64" ;;
  aarch64-linux-android) os="android-arm64"; android=true ;;
  armv7-linux-androideabi) os="android-arm"; android=true ;;
  x86_64-linux-android) os="android-x86_64"; android=true ;;
  i686-linux-android) os="android-x86"; android=true ;;
  *) echo "openssl-min.sh: no OpenSSL target known for $triple" >&2; exit 2 ;;
esac

options=(
  # Build shape: a static libcrypto only, nothing loaded at run time.
  no-shared no-module no-dso no-engine no-legacy no-apps no-tests no-docs
  # Protocols and formats: libssl is built too (`build_libs` makes both) but nothing links
  # it (OPENSSL_LIBS=crypto); these also take their helpers out of libcrypto.
  no-ssl no-tls no-dtls no-quic no-psk no-srp no-srtp no-nextprotoneg no-ssl-trace
  no-sock no-http no-ocsp no-ct no-cmp no-cms no-ts no-rfc3779
  # Public-key algorithms: SQLCipher signs and exchanges nothing (RSA cannot be disabled in
  # OpenSSL 3; `no-ec` also removes ECDSA, ECDH, X25519/Ed25519, SM2, GOST).
  no-ec no-dh no-dsa no-ml-kem no-ml-dsa no-slh-dsa
  # Ciphers other than AES (the page cipher and the CTR-DRBG behind RAND_bytes).
  no-des no-rc2 no-rc4 no-rc5 no-idea no-seed no-bf no-cast no-camellia no-aria no-sm4
  no-chacha no-poly1305 no-ocb no-siv no-cmac
  # Digests, MACs and KDFs other than SHA-1/SHA-2, HMAC and PBKDF2.
  no-md4 no-mdc2 no-rmd160 no-whirlpool no-sm3 no-blake2 no-argon2 no-siphash no-scrypt
  # Compression, console prompts, async jobs and TLS multi-block writes (libssl's only).
  no-comp no-zlib no-ui-console no-async no-multiblock
  # Deprecated 1.x APIs (SQLCipher uses the 3.x ones); no error strings (SQLCipher only logs
  # them), no openssl.cnf read at start, no table of every cipher and digest by name
  # (SQLCipher names its algorithms with EVP_aes_256_cbc() etc. and fetches HMAC/PBKDF2).
  no-deprecated no-err no-autoerrinit no-autoload-config no-autoalginit
)
# Sections per function and data item, so that the Rust linker's --gc-sections drops the
# unused parts of the static library (openssl-src passes the same). -Os over OpenSSL's -O3:
# small over fast, as for the Rust code (profile `mobile`); AES and SHA are assembly anyway.
cflags=(-ffunction-sections -fdata-sections -Os)

build="$target_dir/openssl-min/build/$triple"
prefix="$target_dir/openssl-min/$triple"
configure=(perl "$src/Configure" "$os" "--prefix=$prefix" --libdir=lib
  "--openssldir=$prefix/ssl" "${options[@]}" "${cflags[@]}")

if $android; then
  ndk="${ANDROID_NDK_ROOT:-${ANDROID_NDK_HOME:-}}"
  if [ -z "$ndk" ]; then
    echo "openssl-min.sh: set ANDROID_NDK_ROOT (or ANDROID_NDK_HOME) to the NDK (r26+)" >&2
    exit 2
  fi
  export ANDROID_NDK_ROOT="$ndk"
  host_tag="$(uname -s | tr '[:upper:]' '[:lower:]')-x86_64"
  export PATH="$ndk/toolchains/llvm/prebuilt/$host_tag/bin:$PATH"
  # no-stdio: as openssl-src does for Android, where the build may fail without it.
  configure+=(no-stdio "-D__ANDROID_API__=${ANDROID_API:-24}")
fi

# Same source, options and script as the installed copy: nothing to do.
stamp="$prefix/.openssl-min"
want="$src ${configure[*]} $(cksum < "$self")"
if [ -f "$prefix/lib/libcrypto.a" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$prefix (up to date)"
  exit 0
fi

rm -rf "$build" "$prefix"
mkdir -p "$build"
(
  cd "$build"
  "${configure[@]}"
  # x86_64: the AVX-512 AES-GCM assembly is 0.7 MB of code, kept because the default
  # provider lists AES-GCM (SQLCipher uses AES-CBC). Its generator asks `$CC -Wa,-v` for
  # the assembler's version; told binutils 2.29, too old for AVX-512, it emits a stub, and
  # AES-GCM runs on the AES-NI/AVX code instead. make keeps the file (newer than its source).
  if grep -q '^crypto/modes/aes-gcm-avx512.s:' Makefile; then
    make "CC=echo GNU assembler version 2.29" crypto/modes/aes-gcm-avx512.s
  fi
  make -j"${JOBS:-2}" build_libs
  make install_dev
)
echo "$want" > "$stamp"
# With openssl-sys' `vendored` feature on, cargo does not watch the files under OPENSSL_DIR:
# drop its build so that it, SQLCipher (compiled against these headers) and the libraries
# linking this libcrypto are built again.
for profile in dev release mobile; do
  cargo clean -q -p openssl-sys --profile "$profile"
  cargo clean -q -p openssl-sys --profile "$profile" --target "$triple"
done
echo "$prefix"
