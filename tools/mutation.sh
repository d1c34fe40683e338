#!/usr/bin/env bash
# Mutation testing of the method and file-handling modules with cosmic-ray.
#
#   tools/mutation.sh [-n SIZE] [-s SEED] [-o DIR] [-r] MODULE...
#
# MODULE is a path under captum_lam/ (engine.py's is _method/engine.py), or
# "core" (the method core), "files" (the file-handling modules) or "all".
# SIZE mutants (default 40; 0 = every one) are drawn with SEED (default 29) from
# the meaningful operators in tools/mutation_sample.py.  Each module runs only
# the tests listed for it below, in a copy of the working tree (cosmic-ray
# mutates files in place), and a line "MODULE killed/total (percent)" is printed
# per module; the survivors' diffs go to DIR/MODULE.survivors (DIR defaults to
# a new folder under /tmp).  -r re-tests the survivors of an earlier run kept in
# DIR (same sample), after new tests.  Not in CI, not in the suite: docs/testing.md.
set -euo pipefail
# read whole before it runs: editing this file during a run cannot derail it
{

size=40
seed=29
out=""
rerun=0
while getopts "n:s:o:rh" opt; do
    case $opt in
        n) size=$OPTARG ;;
        s) seed=$OPTARG ;;
        o) out=$OPTARG ;;
        r) rerun=1 ;;
        *) sed -n '2,14p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

core=(_method/engine.py _method/adaptive.py _method/quadrature.py _method/reach.py
      _method/packing.py paths.py filters.py objective.py metrics.py)
method=("${core[@]}" _method/attribution.py _method/checks.py
        _method/model_state.py _method/patch_bank.py lam.py
        path_integrated_gradients.py multiwindow.py windows.py causal_effect.py
        faithfulness.py)
files=(_io.py mapfile.py studies/_store.py studies/_identity.py
       _frontend/output_paths.py)

# The tests that exercise each module: enough to see a wrong result, few
# enough that one module takes minutes.
tests_for() {
    case $1 in
        _method/engine.py) echo tests/test_pass_sizes.py tests/test_warnings_point_at_caller.py tests/test_quadrature_rules.py tests/test_path_integrated_gradients.py tests/test_pig_equals_captum_ig.py tests/test_adaptive.py ;;
        _method/adaptive.py) echo tests/test_warnings_point_at_caller.py tests/test_progress_and_tolerance.py tests/test_adaptive.py tests/test_adaptive_lam.py tests/test_quadrature_rules.py ;;
        _method/quadrature.py) echo tests/test_quadrature_rules.py tests/test_adaptive.py tests/test_pig_equals_captum_ig.py ;;
        _method/reach.py) echo tests/test_reach_region.py tests/test_api_shape.py tests/test_crop.py tests/test_studies.py ;;
        _method/packing.py) echo tests/test_tuple_inputs.py tests/test_path_integrated_gradients.py tests/test_pig_captum_interface.py tests/test_pig_equals_captum_ig.py ;;
        _method/attribution.py) echo tests/test_path_integrated_gradients.py tests/test_lam.py ;;
        _method/checks.py) echo tests/test_warnings_point_at_caller.py tests/test_command_checks.py tests/test_api_shape.py tests/test_argument_limits.py tests/test_unusual_models.py ;;
        _method/model_state.py) echo tests/test_unusual_models.py tests/test_lam.py ;;
        _method/patch_bank.py) echo tests/test_causal_effect.py ;;
        paths.py) echo tests/test_linear_path_baselines.py tests/test_paths.py tests/test_filters.py ;;
        filters.py) echo tests/test_filter_values.py tests/test_filters.py tests/test_paths.py ;;
        objective.py) echo tests/test_window_arguments.py tests/test_objective.py tests/test_lam.py ;;
        metrics.py) echo tests/test_metrics.py tests/test_metric_values.py ;;
        lam.py) echo tests/test_lam_forward_args.py tests/test_lam.py tests/test_lam_captum_utilities.py tests/test_crop.py tests/test_adaptive_lam.py ;;
        path_integrated_gradients.py) echo tests/test_pig_defaults_and_messages.py tests/test_path_integrated_gradients.py tests/test_pig_equals_captum_ig.py tests/test_pig_captum_interface.py ;;
        multiwindow.py) echo tests/test_multiwindow_values.py tests/test_window_packing_overlap.py tests/test_unreached_library_checks.py tests/test_unusual_models.py tests/test_studies.py tests/test_lam.py tests/test_adaptive_lam.py ;;
        windows.py) echo tests/test_window_values.py tests/test_windows.py tests/test_window_search_margin.py tests/test_region_alignment.py tests/test_unreached_library_checks.py tests/test_studies.py ;;
        causal_effect.py) echo tests/test_cem_defaults_and_borders.py tests/test_causal_effect.py ;;
        faithfulness.py) echo tests/test_faithfulness.py tests/test_faithfulness_study.py ;;
        _io.py) echo tests/test_output_files.py tests/test_io.py ;;
        mapfile.py) echo tests/test_map_file_roundtrip.py tests/test_mapfile.py tests/test_library_limits.py ;;
        studies/_store.py) echo tests/test_results_file_tail.py tests/test_results_store.py ;;
        studies/_identity.py) echo tests/test_model_digest.py tests/test_identity_messages.py tests/test_results_identity.py ;;
        _frontend/output_paths.py) echo tests/test_output_checks.py tests/test_outputs_before_work.py tests/test_command_checks.py ;;
        *) return 1 ;;
    esac
}

modules=()
for m in "$@"; do
    case $m in
        core) modules+=("${core[@]}") ;;
        files) modules+=("${files[@]}") ;;
        all) modules+=("${method[@]}" "${files[@]}") ;;
        *) m=${m#captum_lam/}
           tests_for "$m" >/dev/null || { echo "no tests listed for $m (see tests_for in $0)" >&2; exit 2; }
           modules+=("$m") ;;
    esac
done
[ ${#modules[@]} -gt 0 ] || { sed -n '2,14p' "$0"; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$out" ] || out=$(mktemp -d /tmp/captum-lam-mutation.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/captum-lam-mutants.XXXXXX)
(cd "$root" && git ls-files -co --exclude-standard -z | tar --null -T - -cf - ) | tar -xf - -C "$work"
cd "$work"
# the copy, not an installed captum_lam, is what the tests import
export PYTHONPATH=$work
python=${PYTHON:-python}
sock=$work/.forks.sock
$python tools/mutation_forks.py serve "$sock" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do [ -S "$sock" ] && break; sleep 0.1; done

for m in "${modules[@]}"; do
    name=${m//\//_}
    tests=()
    for t in $(tests_for "$m"); do [ -f "$t" ] && tests+=("$t"); done
    # the module's doctests too; -o addopts= drops the suite's doctest of every module
    command="$python tools/mutation_forks.py run $sock -x -q -p no:cacheprovider -o addopts= --doctest-modules captum_lam/$m ${tests[*]}"
    start=$(date +%s)
    if ! $command >"$out/$name.baseline" 2>&1; then
        echo "$m: the tests fail before any mutation (see $out/$name.baseline)" >&2
        continue
    fi
    # a mutant that makes the tests run three times as long is counted killed
    timeout=$(( 3 * ($(date +%s) - start) + 30 ))
    cat >"$out/$name.toml" <<TOML
[cosmic-ray]
module-path = "captum_lam/$m"
timeout = $timeout
excluded-modules = []
test-command = "$command"

[cosmic-ray.distributor]
name = "local"
TOML
    session=$out/$name.sqlite
    if [ $rerun = 1 ]; then
        $python tools/mutation_sample.py rerun "$session"
    else
        rm -f "$session"
        cosmic-ray init "$out/$name.toml" "$session"
        $python tools/mutation_sample.py select "$session" "$size" "$seed" >"$out/$name.sample"
    fi
    cp "captum_lam/$m" "$out/$name.orig"
    cosmic-ray exec "$out/$name.toml" "$session"
    $python tools/mutation_sample.py score "$session" "$m" 2>"$out/$name.survivors" | tee -a "$out/scores"
    cmp -s "$out/$name.orig" "captum_lam/$m" || { echo "cosmic-ray left captum_lam/$m mutated" >&2; exit 1; }
done
echo "scores and survivors: $out" >&2
exit
}
