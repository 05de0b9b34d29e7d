#!/usr/bin/env bash
# Why this exists: the README is a front door to docs/, and a moved section must not leave a link
# pointing at nothing. Checks every relative markdown link in the project's documentation:
# `[text](path)`, `[text](path#anchor)`, `[text](#anchor)` (and `[ref]: path` definitions). The
# path must exist (relative to the file that links it); an anchor must be the GitHub slug of a
# heading in the target file (lowercase, spaces to '-', punctuation other than '-' and '_'
# dropped, a repeated heading gets -1, -2, ...). Links with a scheme (https:, mailto:) and
# anything inside fenced code blocks or `inline code` are ignored.
#
# Needs only bash, coreutils, grep and sed (GNU sed, as on any Debian). Exit status: 0 no dead
# link, 1 dead links (each printed as FILE:LINE: LINK), 2 usage error.
#
#   scripts/check-doc-links.sh            the project's documentation files (below)
#   scripts/check-doc-links.sh FILE...    only these files
set -u

cd "$(dirname "$0")/.." || exit 2
# A UTF-8 locale, so that sed lowercases and classifies non-ASCII letters as GitHub does (ASCII
# headings come out the same without one).
for loc in C.UTF-8 C.utf8 en_US.UTF-8; do
    if [ "$(printf '\303\211' | LC_ALL=$loc sed 's/.*/\L&/' 2>/dev/null)" = "$(printf '\303\251')" ]; then
        export LC_ALL=$loc
        break
    fi
done

if [ $# -gt 0 ]; then
    files=("$@")
else
    shopt -s nullglob
    files=(README.md docs/*.md BENCHMARKS.md plugin/README.md packaging/deb/README.md tests/go-oracle/README.md)
    shopt -u nullglob
fi

fence_open='^ {0,3}(```+|~~~+)'
fence_close='^ {0,3}(```+|~~~+)[[:space:]]*$'

# Prints "LINE<TAB>TEXT" for each line of $1 outside fenced code blocks.
outside_fences() {
    local n=0 fence="" line
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        if [ -z "$fence" ]; then
            if [[ $line =~ $fence_open ]]; then
                fence=${BASH_REMATCH[1]}
                continue
            fi
            printf '%s\t%s\n' "$n" "$line"
        elif [[ $line =~ $fence_close ]] && [ "${BASH_REMATCH[1]:0:1}" = "${fence:0:1}" ] &&
            [ ${#BASH_REMATCH[1]} -ge ${#fence} ]; then
            fence=""
        fi
    done <"$1"
}

# Heading text -> GitHub anchor: links reduced to their text, lowercase, every character other
# than a letter, digit, space, '-' or '_' dropped (backticks, dots, parentheses, arrows ...),
# each space turned into '-'.
slugify() {
    sed -E -e 's/\[([^]]*)\]\([^)]*\)/\1/g' -e 's/.*/\L&/' -e 's/[^[:alnum:] _-]//g' -e 's/ /-/g'
}

# Prints the anchors of the headings of markdown file $1, one a line (ATX `#` headings and setext
# headings, outside fenced code blocks), with GitHub's -1, -2 suffixes for repeats.
anchors_of() {
    local prev="" n text
    outside_fences "$1" | while IFS=$'\t' read -r n text; do
        if [[ $text =~ ^\ {0,3}#{1,6}([[:space:]]|$) ]]; then
            text=$(sed -E -e 's/^ {0,3}#{1,6}[[:space:]]*//' -e 's/[[:space:]]+#+[[:space:]]*$//' \
                -e 's/[[:space:]]+$//' <<<"$text")
            printf '%s\n' "$text"
            prev=""
        elif [[ $text =~ ^\ {0,3}(=+|-+)[[:space:]]*$ ]] && [ -n "$prev" ]; then
            sed -E -e 's/^[[:space:]]+//' -e 's/[[:space:]]+$//' <<<"$prev"
            prev=""
        elif [[ $text =~ ^[[:space:]]*$ ]]; then
            prev=""
        else
            prev=$text
        fi
    done | slugify | {
        declare -A seen=()
        while IFS= read -r slug; do
            if [ -n "${seen[$slug]+x}" ]; then
                seen[$slug]=$((seen[$slug] + 1))
                printf '%s-%s\n' "$slug" "${seen[$slug]}"
            else
                seen[$slug]=0
                printf '%s\n' "$slug"
            fi
        done
    }
}

declare -A anchor_cache=()
# True if markdown file $1 has a heading whose anchor is $2.
has_anchor() {
    if [ -z "${anchor_cache[$1]+x}" ]; then
        anchor_cache[$1]=$'\n'$(anchors_of "$1")$'\n'
    fi
    [[ ${anchor_cache[$1]} == *$'\n'"$2"$'\n'* ]]
}

dead=0
checked=0
for file in "${files[@]}"; do
    if [ ! -f "$file" ]; then
        echo "check-doc-links: no such file: $file" >&2
        exit 2
    fi
    dir=$(dirname "$file")
    while IFS=$'\t' read -r n text; do
        [[ $text == *']('* || $text == *']:'* ]] || continue
        # Inline code is not a link; then every `](target)` and every `[ref]: target`.
        targets=$(sed -e 's/`[^`]*`//g' <<<"$text" |
            grep -oE '\]\([^)]*\)|^ {0,3}\[[^]]+\]:[[:space:]]+[^[:space:]]+' |
            sed -E -e 's/^\]\(//' -e 's/\)$//' -e 's/^ {0,3}\[[^]]+\]:[[:space:]]+//')
        [ -n "$targets" ] || continue
        while IFS= read -r link; do
            target=${link%% *} # drop a "title"
            target=${target#<}
            target=${target%>}
            [ -n "$target" ] || continue
            if [[ $target =~ ^[A-Za-z][A-Za-z0-9+.-]*: ]]; then
                continue # https:, http:, mailto: ...
            fi
            checked=$((checked + 1))
            path=${target%%#*}
            anchor=""
            [[ $target == *'#'* ]] && anchor=${target#*#}
            if [ -z "$path" ]; then
                resolved=$file
            elif [[ $path == /* ]]; then
                resolved=.$path
            else
                resolved=$dir/$path
            fi
            ok=1
            if [ ! -e "$resolved" ]; then
                ok=0
            elif [ -n "$anchor" ]; then
                if [ -f "$resolved" ] && [[ $resolved == *.md ]]; then
                    has_anchor "$resolved" "$anchor" || ok=0
                elif [[ ! $anchor =~ ^L[0-9]+(-L[0-9]+)?$ ]]; then
                    ok=0 # only line anchors make sense in a file that is not markdown
                fi
            fi
            if [ $ok = 0 ]; then
                echo "$file:$n: $link"
                dead=$((dead + 1))
            fi
        done <<<"$targets"
    done < <(outside_fences "$file")
done

if [ $dead -gt 0 ]; then
    echo "check-doc-links: $dead dead link(s) of $checked checked in ${#files[@]} file(s)" >&2
    exit 1
fi
echo "check-doc-links: $checked relative links in ${#files[@]} files, none dead"
