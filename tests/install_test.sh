#!/bin/sh
# hotreload as its users get it. A user's program (tests/consumer/) is built against an
# installed hotreload in every supported way — find_package (shared, then static),
# pkg-config, and FetchContent from the source tree — and run: each must watch a file and
# see it reloaded. Also checks libhotreload.so's SONAME and that it exports the public
# API only.
#
#   tests/install_test.sh SOURCE_DIR BUILD_DIR         install BUILD_DIR's static library
#                                                      and a shared build into a temporary
#                                                      prefix, then test that (ctest)
#   tests/install_test.sh --installed PREFIX SOURCE_DIR   test what is installed in PREFIX
#                                                      (ci/package-test: /usr, from the .debs)
set -eu
installed=
if [ "$1" = --installed ]; then
  installed=$2
  shift 2
fi
src=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/hotreload-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
jobs=${JOBS:-2}
step() { echo "== $*"; }
fail() { echo "FAIL: $*"; exit 1; }
quiet() { "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; fail "$*"; }; }

if [ -n "$installed" ]; then
  prefix=$installed
else
  prefix=$work/prefix
  build=$(cd "$2" && pwd)
  step "install $build (static library, headers, CMake and pkg-config files) into $prefix"
  quiet cmake --install "$build" --prefix "$prefix" --component dev
  # No build type: optimisation changes neither the SONAME nor what is exported, and an
  # unoptimised build takes a third of the time (ci/package builds the optimised one).
  step "build and install a shared libhotreload beside it"
  quiet cmake -S "$src" -B "$work/shared" -DCMAKE_BUILD_TYPE= -DBUILD_SHARED_LIBS=ON \
    -DHOTRELOAD_BUILD_TESTS=OFF -DHOTRELOAD_BUILD_CLI=OFF -DHOTRELOAD_BUILD_BENCH=OFF \
    -DHOTRELOAD_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX="$prefix"
  quiet cmake --build "$work/shared" -j"$jobs"
  quiet cmake --install "$work/shared" --component dev
  (cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/   /')
fi

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
lib=$(pkg-config --variable=libdir hotreload) || fail "pkg-config does not find hotreload"
step "libhotreload.so: SONAME and exported symbols"
soname=$(readelf -d "$lib/libhotreload.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libhotreload.so.0 ] || fail "SONAME is '$soname', not libhotreload.so.0"
# The symbol's own name (not its parameters' types), without "typeinfo for " and the like.
nm -DC --defined-only "$lib/libhotreload.so" | cut -d' ' -f3- |
  sed -E 's/^((typeinfo name|typeinfo|vtable|VTT|construction vtable|(non-)?virtual thunk to|guard variable) for |(non-)?virtual thunk to )//' |
  grep -o '^hotreload::[A-Za-z_]*' | sort -u >"$work/exported"
cat "$work/exported" | sed 's/^/   /'
public='FileWatcher|VolumeWatcher|Watcher|Snapshot|snapshot_hash|Hub|Digest|StartError|Clock|CheckRunner|EventSource|Filesystem|OpenFile|DurationHistogram|MetricsRecorder|to_string|format_decision|log_decision|hotreload_category|error_name|render_prometheus|escape_label_value|is_valid_metric_prefix'
if grep -Ev "^hotreload::($public)\$" "$work/exported"; then fail "internal symbols exported (above)"; fi
grep -qx 'hotreload::FileWatcher' "$work/exported" || fail "FileWatcher is not exported"

run() {  # run NAME BINARY: the consumer must print a reload
  mkdir -p "$work/run-$1"
  out=$("$2" "$work/run-$1" 2>&1) || { echo "$out"; fail "$1: the consumer failed"; }
  echo "$out" | sed "s/^/   $1: /"
  echo "$out" | grep -qx 'reloaded: v2' || fail "$1: no reload printed"
}
needs() {  # needs BINARY yes|no: whether it loads libhotreload.so
  if readelf -d "$1" | grep -q 'NEEDED.*libhotreload'; then has=yes; else has=no; fi
  [ "$has" = "$2" ] || fail "$1: links libhotreload.so: $has, expected $2"
}

step "find_package(hotreload CONFIG REQUIRED): the shared library"
quiet cmake -S "$src/tests/consumer" -B "$work/package" -DCMAKE_PREFIX_PATH="$prefix"
quiet cmake --build "$work/package" -j"$jobs"
needs "$work/package/consumer" yes
run find_package "$work/package/consumer"

step "find_package with hotreload_USE_STATIC_LIBS=ON: the static library"
quiet cmake -S "$src/tests/consumer" -B "$work/static" -DCMAKE_PREFIX_PATH="$prefix" \
  -Dhotreload_USE_STATIC_LIBS=ON
quiet cmake --build "$work/static" -j"$jobs"
needs "$work/static/consumer" no
run find_package_static "$work/static/consumer"

step "pkg-config --cflags --libs hotreload"
flags=$(pkg-config --cflags --libs hotreload)
echo "   $flags"
quiet ${CXX:-c++} -std=c++20 -O1 "$src/tests/consumer/main.cc" -o "$work/pkgconfig" $flags \
  -Wl,-rpath,"$lib"
needs "$work/pkgconfig" yes
run pkg-config "$work/pkgconfig"

if [ -n "$installed" ]; then
  echo "install_test: all green"
  exit 0
fi
step "FetchContent from the source tree (add_subdirectory): only the library is built"
quiet cmake -S "$src/tests/consumer" -B "$work/source" -DHOTRELOAD_FROM=source \
  -DHOTRELOAD_SOURCE_DIR="$src"
[ ! -e "$work/source/_deps/hotreload-build/tests" ] || fail "a subproject build configured the tests"
[ ! -e "$work/source/_deps/hotreload-build/src/cli" ] || fail "a subproject build configured the tool"
quiet cmake --build "$work/source" -j"$jobs"
run FetchContent "$work/source/consumer"
echo "install_test: all green"
