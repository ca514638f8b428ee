#!/usr/bin/env bash
# Obtain a free-threaded CPython (configure --disable-gil) for ftaudit's ground-truth tests.
#
#   tools/build-freethreaded-python.sh [--reuse-only] [VERSION] [PREFIX]
#
#   --reuse-only  print an interpreter that is already built, never build one (exit 1 naming the
#            command that builds it): what the test suite does, so that `pytest` never spends minutes
#            building silently.
#
#   VERSION  minor version to build, default 3.13 (Debian trixie's python3.13 source package is
#            known to be reachable; newer versions are looked up in forky and sid too).
#   PREFIX   install folder, default ${FTAUDIT_CACHE:-$HOME/.cache/ftaudit}/cpython-VERSIONt.
#            Keep it outside the repository: it is a cache shared by every checkout and CI run.
#
# Prints the interpreter's path as the last line of stdout and exits 0. A working interpreter in
# PREFIX is reused at once; otherwise the source is downloaded and built (about 10 minutes on two
# cores; the build log is kept as PREFIX.build.log). Exits 1 with a one-line reason on stderr when
# no interpreter can be obtained. FTAUDIT_CPYTHON_SOURCE=/path/to/Python-X.Y.Z.tar.xz skips the
# download. Needs a C compiler, make, tar and xz; the Debian download needs apt-get and network.
set -euo pipefail

reuse_only=false
if [ "${1:-}" = --reuse-only ]; then reuse_only=true; shift; fi
version=${1:-3.13}
cache=${FTAUDIT_CACHE:-$HOME/.cache/ftaudit}
prefix=${2:-$cache/cpython-${version}t}
exe="$prefix/bin/python${version}t"

die() { echo "build-freethreaded-python: $*" >&2; exit 1; }

# A usable interpreter is the requested version, built with Py_GIL_DISABLED, running without the GIL.
works() {
  [ -x "$exe" ] && "$exe" -I -c "
import sys, sysconfig
ok = sys.version_info[:2] == tuple(map(int, '$version'.split('.'))) \
    and sysconfig.get_config_var('Py_GIL_DISABLED') == 1 and not sys._is_gil_enabled()
sys.exit(0 if ok else 1)" >/dev/null 2>&1
}

[[ $version =~ ^3\.[0-9]+$ ]] || die "VERSION must look like 3.13, got '$version'"
if works; then echo "$exe"; exit 0; fi
if $reuse_only; then
  die "no free-threaded CPython $version built yet; build it once (about 10 minutes) with: bash tools/build-freethreaded-python.sh $version"
fi

mkdir -p "$(dirname "$prefix")" || die "cannot create the cache folder $(dirname "$prefix")"
# Two concurrent callers (CI's pre-build step and a test session) must not build into one prefix.
exec 9>"$prefix.lock"
if command -v flock >/dev/null; then
  flock 9
  if works; then echo "$exe"; exit 0; fi
fi

for tool in make tar xz; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed; it is needed to build CPython"
done
CC=${CC:-$(command -v cc || command -v gcc || true)}
[ -n "$CC" ] || die "no C compiler (cc/gcc) found; it is needed to build CPython"

work=$(mktemp -d "${TMPDIR:-/tmp}/ftaudit-cpython.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- source: a local tarball, or the .orig tarball of Debian's pythonX.Y source package ----------
fetch_debian() {
  command -v apt-get >/dev/null || return 1
  local suite ver lists
  for suite in trixie forky sid; do
    lists="$work/apt-$suite"
    mkdir -p "$lists/lists/partial" "$work/dl"
    printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
      "http://deb.debian.org/debian" "$suite" >"$lists/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$lists/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
                -o "Dir::State::Lists=$lists/lists" -o "Debug::NoLocking=1")
    apt-get "${opts[@]}" update -qq >/dev/null 2>&1 || continue
    # An index may list versions its pool no longer serves: try them newest first.
    for ver in $(apt-cache "${opts[@]}" showsrc "python$version" 2>/dev/null \
                 | sed -n 's/^Version: //p' | sort -ruV); do
      if (cd "$work/dl" && apt-get "${opts[@]}" source --download-only "python$version=$ver" >/dev/null 2>&1); then
        # The .orig tarball itself, not its detached signature (.orig.tar.xz.asc).
        tarball=$(find "$work/dl" -maxdepth 1 \( -name "python${version}_*.orig.tar.xz" \
                  -o -name "python${version}_*.orig.tar.gz" -o -name "python${version}_*.orig.tar.bz2" \) | head -n 1)
        [ -n "$tarball" ] && { echo "build-freethreaded-python: source python$version=$ver ($suite)" >&2; return 0; }
      fi
      rm -f "$work"/dl/*
    done
  done
  return 1
}

tarball=${FTAUDIT_CPYTHON_SOURCE:-}
if [ -n "$tarball" ]; then
  [ -f "$tarball" ] || die "FTAUDIT_CPYTHON_SOURCE=$tarball does not exist"
else
  fetch_debian || die "could not download the python$version source package from Debian (trixie, forky, sid);" \
    "set FTAUDIT_CPYTHON_SOURCE to a Python-$version.x tarball to build offline"
fi

mkdir -p "$work/src"
tar -xf "$tarball" -C "$work/src" || die "cannot unpack $tarball"
srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'Python-*' | head -n 1)
[ -n "$srcdir" ] && [ -x "$srcdir/configure" ] || die "$tarball does not hold a Python-* source tree"

# --- build -----------------------------------------------------------------------------------
log="$prefix.build.log"
rm -rf "$prefix"
started=$SECONDS
echo "build-freethreaded-python: building CPython $version with --disable-gil into $prefix (log: $log)" >&2
(
  cd "$srcdir"
  ./configure --disable-gil --prefix="$prefix" --without-ensurepip CC="$CC"
  make -j"$(nproc 2>/dev/null || echo 2)"
  make install
) >"$log" 2>&1 || { tail -n 25 "$log" >&2; rm -rf "$prefix"; die "the build failed; see $log"; }

works || { rm -rf "$prefix"; die "built $exe, but it is not a working free-threaded interpreter"; }
echo "build-freethreaded-python: done in $((SECONDS - started)) s" >&2
echo "$exe"
