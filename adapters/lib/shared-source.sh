# Sourced by the install.sh of an implementation whose published source comes with ../shared
# (a sibling of this checkout): `shared_source NAME DIR FILE` sets $source_dir to
# ../shared/third-party/DIR, or, when DIR/FILE is not there (a clone on its own), says the
# implementation is skipped and exits 0, so its run.sh skips it the same way.
shared_source() {
  local name=$1 dir=$2 file=$3 root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  source_dir="$root/../shared/third-party/$dir"
  if [ ! -f "$source_dir/$file" ]; then
    echo "$name: SKIPPED, no package source at $source_dir (it comes with ../shared)"
    exit 0
  fi
}
