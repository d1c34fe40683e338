"""Sampling and scoring for tools/mutation.sh (cosmic-ray session files).

``select SESSION SIZE SEED``
    keep a seeded random sample of SIZE mutants made by the operators in
    ``OPERATORS``; every other work item is marked skipped, so that
    ``cosmic-ray exec`` runs only the sample.
``rerun SESSION``
    forget the survivors' results, so that ``cosmic-ray exec`` tests them
    again (after new tests; the killed ones stay killed). Each survivor is
    found again by its position in the module as it is now (an edit above it
    renumbers cosmic-ray's occurrences); one whose code was changed since the
    draw is dropped from the sample and counted as such.
``score SESSION MODULE``
    print ``MODULE killed/total (percent)`` and write each survivor's diff
    to standard error.

Not part of the package and not run by the test suite (docs/testing.md).
"""

from __future__ import annotations

import random
import sqlite3
import sys
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

# The mutants a reviewer would call meaningful: a flipped or loosened
# comparison, a swapped arithmetic operator, an off-by-one constant, a negated
# condition, a flipped boolean, an and/or swap, a loop that never runs, an
# ``except`` clause that no longer catches.  cosmic-ray's other replacements
# (``+`` by ``<<``, ``==`` by ``is`` ...) mostly raise a TypeError at once.
OPERATORS = {
    "core/ReplaceComparisonOperator_Eq_NotEq",
    "core/ReplaceComparisonOperator_NotEq_Eq",
    "core/ReplaceComparisonOperator_Lt_LtE",
    "core/ReplaceComparisonOperator_LtE_Lt",
    "core/ReplaceComparisonOperator_Gt_GtE",
    "core/ReplaceComparisonOperator_GtE_Gt",
    "core/ReplaceComparisonOperator_Lt_Gt",
    "core/ReplaceComparisonOperator_Gt_Lt",
    "core/ReplaceComparisonOperator_LtE_GtE",
    "core/ReplaceComparisonOperator_GtE_LtE",
    "core/ReplaceComparisonOperator_Is_IsNot",
    "core/ReplaceComparisonOperator_IsNot_Is",
    "core/ReplaceBinaryOperator_Add_Sub",
    "core/ReplaceBinaryOperator_Sub_Add",
    "core/ReplaceBinaryOperator_Mul_Div",
    "core/ReplaceBinaryOperator_Div_Mul",
    "core/ReplaceBinaryOperator_FloorDiv_Div",
    "core/ReplaceBinaryOperator_Div_FloorDiv",
    "core/ReplaceBinaryOperator_Pow_Mul",
    "core/ReplaceUnaryOperator_USub_UAdd",
    "core/ReplaceUnaryOperator_Delete_Not",
    "core/AddNot",
    "core/ReplaceTrueWithFalse",
    "core/ReplaceFalseWithTrue",
    "core/ReplaceAndWithOr",
    "core/ReplaceOrWithAnd",
    "core/ReplaceBreakWithContinue",
    "core/ReplaceContinueWithBreak",
    "core/NumberReplacer",
    "core/ZeroIterationForLoop",
    "core/ExceptionReplacer",
}


def _is_star_argument(item) -> bool:
    """A ``*`` that is no multiplication: ``def f(a, *, b)``, ``f(*args)``.

    cosmic-ray's Mul replacements also rewrite these (``*,`` to ``/,``): an
    equivalent or a syntax error, never a meaningful mutant.
    """
    m = item.mutations[0]
    if "_Mul_" not in m.operator_name:
        return False
    row, col = m.start_pos
    line = _lines(str(m.module_path))[row - 1]
    before, after = line[:col].rstrip(), line[col + 1 :].lstrip()
    return before.endswith(("(", ",")) or after[:1] in (",", ")") or before == ""


def _lines(path: str, cache: dict = {}) -> list:  # noqa: B006
    if path not in cache:
        with open(path) as f:
            cache[path] = f.read().splitlines()
    return cache[path]


def _key(item) -> tuple:
    m = item.mutations[0]
    return (str(m.module_path), m.operator_name, m.occurrence)


def select(session: str, size: int, seed: int) -> None:
    with use_db(session, WorkDB.Mode.open) as db:
        items = sorted(db.work_items, key=_key)
        eligible = [i for i in items if i.mutations[0].operator_name in OPERATORS]
        keep = eligible
        if 0 < size < len(eligible):
            keep = random.Random(seed).sample(eligible, size)
        # dropped after the draw, so that the rest of a sample stays the same
        stars = [i for i in keep if _is_star_argument(i)]
        keep = [i for i in keep if not _is_star_argument(i)]
        kept = {i.job_id for i in keep}
        skip = [i.job_id for i in items if i.job_id not in kept]
        db.set_multiple_results(
            skip,
            WorkResult(output="not sampled", worker_outcome=WorkerOutcome.SKIPPED),
        )
        print(
            f"{len(keep)} of {len(eligible)} meaningful mutants ({len(items)} in "
            f"all; {len(stars)} drawn were star arguments, dropped)"
        )


def _positions(path: str, operator_name: str) -> list:
    from cosmic_ray.ast import ast_nodes, get_ast_from_path
    from cosmic_ray.plugins import get_operator

    operator = get_operator(operator_name)()
    tree = get_ast_from_path(Path(path))
    return [
        (tuple(start), tuple(end))
        for node in ast_nodes(tree)
        for start, end in operator.mutation_positions(node)
    ]


def rerun(session: str) -> None:
    with sqlite3.connect(session) as db:
        survivors = db.execute(
            "SELECT s.job_id, s.module_path, s.operator_name, s.occurrence, "
            "s.start_pos_row, s.start_pos_col, s.end_pos_row, s.end_pos_col "
            "FROM mutation_specs s JOIN work_results r ON r.job_id = s.job_id "
            "WHERE r.test_outcome = 'SURVIVED'"
        ).fetchall()
        firsts = {
            tuple(row): db.execute(
                "SELECT MIN(occurrence) FROM mutation_specs WHERE module_path = ? "
                "AND operator_name = ? AND start_pos_row = ? AND start_pos_col = ? "
                "AND end_pos_row = ? AND end_pos_col = ?",
                (row[1], row[2], *row[4:]),
            ).fetchone()[0]
            for row in survivors
        }
        gone = 0
        for row in survivors:
            job_id, path, operator, occurrence, *ends = row
            span = ((ends[0], ends[1]), (ends[2], ends[3]))
            now = _positions(path, operator)
            if span not in now:
                gone += 1
                db.execute(
                    "UPDATE work_results SET worker_outcome = 'SKIPPED', "
                    "test_outcome = NULL, output = 'code changed since the draw' "
                    "WHERE job_id = ?",
                    (job_id,),
                )
                continue
            # a span with several mutants (NumberReplacer: +1 and -1): the same one
            db.execute(
                "UPDATE mutation_specs SET occurrence = ? WHERE job_id = ?",
                (now.index(span) + occurrence - firsts[tuple(row)], job_id),
            )
            db.execute("DELETE FROM work_results WHERE job_id = ?", (job_id,))
        print(f"{len(survivors) - gone} survivors to test again, {gone} gone")


def score(session: str, module: str) -> None:
    with use_db(session, WorkDB.Mode.open) as db:
        by_id = {i.job_id: i for i in db.work_items}
        killed = total = 0
        survivors = []
        for job_id, result in db.results:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if _is_star_argument(by_id[job_id]):  # drawn before the filter existed
                continue
            total += 1
            if result.test_outcome == TestOutcome.SURVIVED:
                survivors.append((_key(by_id[job_id]), result.diff))
            else:
                killed += 1
    share = 100.0 * killed / total if total else float("nan")
    print(f"{module} {killed}/{total} killed ({share:.0f}%)")
    for (path, operator, occurrence), diff in sorted(survivors):
        print(f"SURVIVED {path} {operator} #{occurrence}", file=sys.stderr)
        print(diff, file=sys.stderr)


if __name__ == "__main__":
    command, session, *rest = sys.argv[1:]
    if command == "select":
        select(session, int(rest[0]), int(rest[1]))
    elif command == "rerun":
        rerun(session)
    elif command == "score":
        score(session, rest[0])
    else:
        raise SystemExit(f"unknown command {command!r}: select, rerun or score")
