# Shared by scripts/run and scripts/test: install what is missing, then build.
# Sourced, not executed.

# Build and run time dependencies (Debian 12 package names).
MTASTSD_BUILD_PACKAGES="cmake ninja-build g++ pkg-config libboost-dev libssl-dev libunbound-dev libevent-dev liblmdb-dev
  libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev libidn2-dev nlohmann-json3-dev dns-root-data ca-certificates
  zlib1g-dev libopendkim-dev libcurl4-openssl-dev libsystemd-dev prometheus-cpp-dev"
# The fuzz build (scripts/fuzz): clang 16, the first that compiles libstdc++ 12's std::expected,
# its compiler-rt (libFuzzer, ASan, UBSan), and llvm-symbolizer for readable sanitizer reports.
MTASTSD_FUZZ_PACKAGES="clang-16 libclang-rt-16-dev llvm-16"
# Test dependencies: unit tests, the network-namespace rig, Google Benchmark (bench/ is built there
# too), and the fuzz build.
MTASTSD_TEST_PACKAGES="$MTASTSD_FUZZ_PACKAGES libgtest-dev libgmock-dev libbenchmark-dev lmdb-utils nsd unbound ldnsutils nginx-light iproute2 openssl
  python3 python3-pytest dnsutils procps debootstrap debian-archive-keyring postfix python3-aiosmtpd python3-dkim
  python3-jsonschema faketime"

# Building the Debian package (scripts/package): dpkg-shlibdeps.
MTASTSD_PACKAGE_PACKAGES="dpkg-dev"

# install_packages PKG...: apt-get install only what dpkg does not already have.
install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -qq
  # Daemons installed for the tests must not start system-wide instances.
  local policy_rc=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy_rc"; chmod +x "$policy_rc"; created_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  local rc=$?
  [ "$created_policy" -eq 1 ] && rm -f "$policy_rc"
  return $rc
}

# build DIR TYPE [TARGET...]
build() {
  local dir=$1 type=$2; shift 2
  # MTASTSD_CMAKE_ARGS: more cache settings (scripts/test: the install prefix of its .deb).
  cmake -S "$MTASTSD_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" ${MTASTSD_CMAKE_ARGS:-} >/dev/null || return 1
  cmake --build "$dir" -j"$(nproc)" ${1:+--target "$@"}
}
