# Sourced, not run: the private-apt fetch that scripts/fetch-dockerd.sh and scripts/fetch-buildx.sh
# share. It gets Debian packages of another suite through apt alone, without installing them: a
# private sources list (the machine's own entries for its release with the suite switched), private
# apt state dirs and an empty dpkg status, `apt-get download`, then `dpkg-deb -x` into a cache
# folder. The system's apt state and installed packages are never read or written.
#
# The caller runs `private_apt_args TOOL "$@"` (its command line: nothing, --refresh or
# --print-sources; it sets `refresh` and `print_sources` and defines `log` and `die`, which name
# TOOL), sets the following, then calls `private_apt_fetch`:
#   suite          the Debian suite to fetch from (trixie, sid, ...)
#   cache          the folder the unpacked packages end up in (its root/ holds the files)
#   packages       an array of package names
#   verify_tree    DIR -> status: whether DIR (with DIR/COMPLETE) is usable
#   print_result   DIR -> prints the caller's one line of stdout for a usable DIR

private_apt_args() {
  private_apt_tool=$1
  shift
  log() { echo "$private_apt_tool: $*" >&2; }
  die() { log "$*"; exit 1; }
  refresh=0
  print_sources=0
  case "${1:-}" in
    --refresh) refresh=1 ;;
    --print-sources) print_sources=1 ;; # show the derived apt sources, fetch nothing
    "") ;;
    *) die "usage: $0 [--refresh | --print-sources]" ;;
  esac
  # CI fetches afresh instead of trusting a cache.
  if [ "${CI:-}" = true ]; then refresh=1; fi
}

private_apt_fetch() {
  mkdir -p "$(dirname "$cache")"
  # One fetch at a time per cache (two `make test` in one checkout).
  exec 9>"$cache.lock"
  flock 9

  if [ "$refresh" = 0 ] && [ "$print_sources" = 0 ] && verify_tree "$cache"; then
    log "reusing $cache ($(tr '\n' ' ' <"$cache/COMPLETE"))"
    print_result "$cache"
    return 0
  fi

  for tool in apt-get apt-config dpkg-deb; do
    command -v "$tool" >/dev/null || die "needs $tool (a Debian machine)"
  done

  # Derive the $suite entries from the machine's own apt sources: every entry for the installed
  # release's codename, with the suite substituted. No mirror is named here.
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "cannot tell the release codename from /etc/os-release"
  sources_list=/etc/apt/sources.list
  sources_parts=/etc/apt/sources.list.d
  eval "$(apt-config shell sources_list Dir::Etc::sourcelist/f sources_parts Dir::Etc::sourceparts/d)"

  work=$(mktemp -d "$cache.new.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  chmod 755 "$work"
  mkdir -p "$work/apt/sources.list.d" "$work/apt/lists/partial" "$work/apt/cache/archives/partial" \
    "$work/debs"
  : >"$work/apt/sources.list"
  : >"$work/apt/status"
  # Read after the system's configuration: no hooks that notify system services of "our" update,
  # and no index but Packages (no translations, no AppStream metadata).
  {
    printf '#clear %s;\n' APT::Update::Pre-Invoke APT::Update::Post-Invoke \
      APT::Update::Post-Invoke-Success
    apt-config dump | sed -n 's/^\(Acquire::IndexTargets::deb::[^: ]*\) .*/\1/p' | sort -u \
      | grep -vx 'Acquire::IndexTargets::deb::Packages' | sed 's/.*/#clear &;/'
  } >"$work/apt/apt.conf"

  # One-line format (sources.list, *.list): `deb [options] URI SUITE COMPONENT...`.
  for f in "$sources_list" "$sources_parts"/*.list; do
    [ -f "$f" ] || continue
    awk -v from="$codename" -v to="$suite" '
      $1 == "deb" {
        i = 2
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == from) { $(i + 1) = to; print }
      }' "$f" >>"$work/apt/sources.list"
  done
  # deb822 format (*.sources): stanzas whose Suites name the codename become one stanza for
  # $suite (binary packages only; comments and disabled stanzas dropped, other fields kept).
  for f in "$sources_parts"/*.sources; do
    [ -f "$f" ] || continue
    awk -v from="$codename" -v to="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      {
        keep = 0; enabled = 1; out = ""; skip_cont = 0
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^#/) continue
          if (line ~ /^[ \t]/) { if (!skip_cont) out = out line "\n"; continue }
          skip_cont = 0
          split(line, kv, ":"); key = tolower(kv[1])
          val = substr(line, index(line, ":") + 1)
          if (key == "enabled" && val ~ /no/) enabled = 0
          if (key == "types") {
            if (val !~ /(^|[ \t])deb([ \t]|$)/) enabled = 0
            out = out "Types: deb\n"; skip_cont = 1; continue
          }
          if (key == "suites") {
            n = split(val, s, /[ \t]+/)
            for (j = 1; j <= n; j++) if (s[j] == from) keep = 1
            out = out "Suites: " to "\n"; skip_cont = 1; continue
          }
          out = out line "\n"
        }
        if (keep && enabled) printf "%s\n", out
      }' "$f" >>"$work/apt/sources.list.d/$suite.sources"
  done
  grep -q . "$work/apt/sources.list" "$work/apt/sources.list.d/$suite.sources" 2>/dev/null \
    || die "no apt source for '$codename' in $sources_list or $sources_parts to derive '$suite' from"
  if [ "$print_sources" = 1 ]; then
    cat "$work/apt/sources.list" "$work/apt/sources.list.d/$suite.sources"
    rm -rf "$work"
    return 0
  fi

  # Private everything: sources, lists, caches, and an empty dpkg status, so neither the system's
  # package lists nor its installed packages are read or written.
  apt=(apt-get -q
    -o "Dir::Etc::SourceList=$work/apt/sources.list"
    -o "Dir::Etc::SourceParts=$work/apt/sources.list.d"
    -o "Dir::State::Lists=$work/apt/lists"
    -o "Dir::State::status=$work/apt/status"
    -o "Dir::Cache=$work/apt/cache"
    -o "Dir::Cache::Archives=$work/apt/cache/archives"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    -c "$work/apt/apt.conf")
  log "apt-get update for $suite (private lists in $work/apt)"
  "${apt[@]}" update >&2
  # apt downloads as the unprivileged _apt user when it can write the target directory.
  if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
    chown _apt "$work/debs"
  fi
  log "apt-get download ${packages[*]/%//$suite}"
  (cd "$work/debs" && "${apt[@]}" download "${packages[@]/%//$suite}" >&2)

  : >"$work/COMPLETE.new"
  for p in "${packages[@]}"; do
    debs=("$work/debs/${p}"_*.deb)
    deb=${debs[0]}
    [ -f "$deb" ] || die "apt-get download gave no $p package"
    dpkg-deb -x "$deb" "$work/root"
    echo "$p $(dpkg-deb -f "$deb" Version)" >>"$work/COMPLETE.new"
  done
  rm -rf "$work/apt"
  mv "$work/COMPLETE.new" "$work/COMPLETE"
  verify_tree "$work" || die "unpacked tree in $work failed its check (see above)"

  rm -rf "$cache"
  mv "$work" "$cache"
  trap - EXIT
  log "unpacked $(tr '\n' ' ' <"$cache/COMPLETE")into $cache"
  print_result "$cache"
}
