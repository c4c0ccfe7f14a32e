"""``r2o-task``: the POSIX sh script every child of a pipeline's Batch array job runs.

Array children share one command, so a child learns its day at run time: from its array index
(``AWS_BATCH_JOB_ARRAY_INDEX``) and the chunk's first day, both turned into day numbers and back by
the two functions of :data:`DAYS_SH`, integer arithmetic in POSIX sh (H. Hinnant's ``days_from_civil`` and
``civil_from_days``, proleptic Gregorian calendar). No ``date -d`` (a GNU extension) and no
subprocess per day: the shell's own arithmetic, so the mapping is the same in every image and is
tested against the task graph's days (``tests/pipeline/test_launcher.py``).

The command is ``sh -c LAUNCHER r2o-task FIRST_DAY RUN SPEC... -- ARGV...``:

- ``FIRST_DAY``: the chunk's first day (YYYY-MM-DD); child ``i`` runs day ``FIRST_DAY + i``, and
  ``@PREV@`` is the day before it;
- ``RUN``: the run's folder in the lake (``@RUN@``);
- specs, each a word followed by its fields, with ``@DAY@``, ``@PREV@`` and ``@RUN@`` substituted:
  ``in DEST SRC`` (copy SRC to DEST; a missing SRC fails the child with exit 66), ``opt DEST SRC``
  (copy when SRC exists), ``all DIR TEMPLATE COUNT FIRST`` (copy the COUNT files TEMPLATE names
  with ``@D@`` = FIRST, FIRST + 1, ... into DIR as ``<stem>_<day>.<ext>``), ``out DIR`` (where
  /data/output goes after success, through a temporary folder and one ``mv``), ``stdout`` (the
  component's stdout is an output: keep it as stdout.txt);
- ``ARGV``: the component's command, ``@DAY@`` replaced by the child's day.

With ``R2O_TASK_DRY_RUN=1`` in its environment the script prints what it would do (one line per
action: ``day D``, ``prev D``, ``in|opt DEST SRC``, ``all DEST SRC``, ``out DIR``, ``argv ARG``) and
exits 0 before touching a file: how the tests, and an operator, see a child's resolved command.
"""

from __future__ import annotations

import datetime as dt

DAY = "@DAY@"
PREV = "@PREV@"
RUN = "@RUN@"
COLLECTED_DAY = "@D@"
NAME = "r2o-task"
DRY_RUN_ENV = "R2O_TASK_DRY_RUN"

# days_from_civil YYYY-MM-DD sets r2o_n to its day number (1970-01-01 is 0); civil_from_days N
# sets r2o_ymd to day N as YYYY-MM-DD. Years 0001-9999 (what Python's datetime.date holds). Both keep to
# POSIX arithmetic expansion; a leading 1 keeps "08" from being read as octal and pads the output.
DAYS_SH = r"""days_from_civil() {
  case $1 in [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]) ;;
    *) echo "r2o-task: '$1' is not a day (YYYY-MM-DD)" >&2; exit 64;; esac
  _y=${1%%-*}; _m=${1#*-}; _d=${_m#*-}; _m=${_m%-*}
  _y=$((1$_y - 10000)); _m=$((1$_m - 100)); _d=$((1$_d - 100))
  _y=$((_y - (_m <= 2)))
  _era=$((_y / 400)); _yoe=$((_y - _era * 400))
  _doy=$(( (153 * (_m > 2 ? _m - 3 : _m + 9) + 2) / 5 + _d - 1 ))
  _doe=$((_yoe * 365 + _yoe / 4 - _yoe / 100 + _doy))
  r2o_n=$((_era * 146097 + _doe - 719468))
}
civil_from_days() {
  _z=$(($1 + 719468)); _era=$((_z / 146097)); _doe=$((_z - _era * 146097))
  _yoe=$(( (_doe - _doe / 1460 + _doe / 36524 - _doe / 146096) / 365 ))
  _doy=$((_doe - (365 * _yoe + _yoe / 4 - _yoe / 100)))
  _mp=$(( (5 * _doy + 2) / 153 ))
  _d=$((_doy - (153 * _mp + 2) / 5 + 1)); _m=$((_mp < 10 ? _mp + 3 : _mp - 9))
  _y=$((_yoe + _era * 400 + (_m <= 2)))
  _y=$((_y + 10000)); _m=$((_m + 100)); _d=$((_d + 100))
  r2o_ymd=${_y#1}-${_m#1}-${_d#1}
}
"""

# $0 = r2o-task; $1 = the chunk's first day; $2 = the run's folder in the lake; then the specs up
# to "--"; then the component's command.
MAIN_SH = r"""start=$1; run=$2; shift 2
dry=${R2O_TASK_DRY_RUN:-}
# an array child's job id is <parent id>:<index> (the fallback where the variable is not set, e.g. moto)
case ${AWS_BATCH_JOB_ID:-} in *:*) idx=${AWS_BATCH_JOB_ID##*:};; *) idx=0;; esac
idx=${AWS_BATCH_JOB_ARRAY_INDEX:-$idx}
case $idx in ''|*[!0-9]*) echo "r2o-task: array index '$idx' is not a number" >&2; exit 64;; esac
days_from_civil "$start"
civil_from_days $((r2o_n + idx)); day=$r2o_ymd
civil_from_days $((r2o_n + idx - 1)); prev=$r2o_ymd
if [ -n "$dry" ]; then echo "day $day"; echo "prev $prev"; fi
sub() { printf '%s' "$1" | sed -e "s|@DAY@|$day|g" -e "s|@PREV@|$prev|g" -e "s|@RUN@|$run|g"; }
out=""; cap=0
while [ "$1" != "--" ]; do
  case $1 in
    in|opt)
      src=$(sub "$3")
      if [ -n "$dry" ]; then echo "$1 $2 $src"
      elif [ -e "$src" ]; then mkdir -p "$(dirname "$2")"; cp -R "$src" "$2"
      elif [ "$1" = in ]; then echo "r2o-task: input $src does not exist" >&2; exit 66; fi
      shift 3;;
    all)
      [ -n "$dry" ] || mkdir -p "$2"
      days_from_civil "$5"; first=$r2o_n; i=0
      while [ "$i" -lt "$4" ]; do
        civil_from_days $((first + i)); d=$r2o_ymd
        s=$(printf '%s' "$3" | sed -e "s|@D@|$d|g" -e "s|@RUN@|$run|g"); b=$(basename "$s")
        if [ -n "$dry" ]; then echo "all $2/${b%.*}_$d.${b##*.} $s"
        else cp "$s" "$2/${b%.*}_$d.${b##*.}"; fi
        i=$((i + 1))
      done
      shift 5;;
    out) out=$(sub "$2"); shift 2;;
    stdout) cap=1; shift;;
    *) echo "r2o-task: bad spec $1" >&2; exit 64;;
  esac
done
shift
n=$#; i=0
while [ "$i" -lt "$n" ]; do
  a=$1; shift
  case $a in *@DAY@*) a=$(printf '%s' "$a" | sed "s|@DAY@|$day|g");; esac
  set -- "$@" "$a"; i=$((i + 1))
done
if [ -n "$dry" ]; then echo "out $out"; printf 'argv %s\n' "$@"; exit 0; fi
echo "r2o-task: day $day -> $out" >&2
if [ "$cap" = 1 ]; then "$@" > /data/output/stdout.txt; cat /data/output/stdout.txt; else "$@"; fi
tmp="$(dirname "$out")/.$(basename "$out").partial.$$"
rm -rf "$tmp"; mkdir -p "$tmp"; cp -R /data/output/. "$tmp"/
rm -rf "$out"; mv "$tmp" "$out"
"""

LAUNCHER = "set -eu\n" + DAYS_SH + MAIN_SH


def command(first_day: str, lake_run: str, specs: tuple[str, ...], argv: tuple[str, ...]) -> tuple[str, ...]:
    """The container command of an array job whose child ``i`` runs day ``first_day + i``."""
    return ("sh", "-c", LAUNCHER, NAME, first_day, lake_run, *specs, "--", *argv)


def day_of(first_day: str, index: int) -> str:
    """What the launcher computes for array child ``index`` (for docs; tests compare with the graph)."""
    return (dt.date.fromisoformat(first_day) + dt.timedelta(days=index)).isoformat()
