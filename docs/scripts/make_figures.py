"""Regenerate every figure and generated table of the documentation from the real code.

    python docs/scripts/make_figures.py            # about a minute on a CPU

Writes docs/images/*.png and docs/generated/*.md. CI runs it before
`mkdocs build --strict`, so the pictures in the docs always come from the code.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from captum_lam.cli import build_parser, main

DOCS = Path(__file__).resolve().parents[1]
IMAGES, GENERATED = DOCS / "images", DOCS / "generated"
ZOO_ROW = "plain-d4,plain-d20,edsr-small,rcan-small,swinir-small,span-x4-ch48"


def run(*argv: str) -> None:
    code = main(list(argv))
    if code != 0:
        sys.exit(f"captum-lam {' '.join(argv)} failed with exit code {code}")


def example(name: str, *argv: str) -> None:
    """Run ``captum-lam ARGV`` in a scratch folder and keep what it printed.

    Writes docs/generated/cli_NAME.md (the command and its output) for the CLI
    page, so its worked examples are what the command really prints.
    """
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run(*argv)
    text = f"```text\n$ {shlex.join(['captum-lam', *argv])}\n{buffer.getvalue()}```\n"
    (GENERATED / f"cli_{name}.md").write_text(text)


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(c[1] for c in columns) + " |"]
    lines.append("| " + " | ".join("---" for _ in columns) + " |")
    for r in rows:
        lines.append("| " + " | ".join(format(r[c[0]], c[2]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def compare(name: str, *argv: str, keep_output: bool = False) -> None:
    figure = f"{name}.png"
    args = ["compare", *argv, "--out", figure, "--json", f"{name}.json"]
    if keep_output:
        example(name, *args)
    else:
        run(*args, "--quiet")
    shutil.copy(figure, IMAGES / figure)
    payload = json.loads(Path(f"{name}.json").read_text())
    columns = [("label", "row", "s"), ("diffusion_index", "DI", ".2f")]
    if "psnr_y" in payload["rows"][0]:
        columns.append(("psnr_y", "PSNR-Y (dB)", ".2f"))
    top, left, size = payload["window"]
    text = table(payload["rows"], columns)
    text += (
        f"\n*Window top={top}, left={left}, size={size} in the pixels of "
        f"`{payload['image']}`, x{payload['scale']}: "
        f"`{payload['command']}`.*\n"
    )
    (GENERATED / f"{name}.md").write_text(text)


def cli_help() -> None:
    parser = build_parser()
    parts = []
    for command, sub in parser._subparsers._group_actions[0].choices.items():  # noqa: SLF001
        parts.append(f"## `captum-lam {command}`\n\n```text\n{sub.format_help()}```\n")
    (GENERATED / "cli_help.md").write_text("\n".join(parts))


def main_figures() -> None:
    IMAGES.mkdir(exist_ok=True)
    GENERATED.mkdir(exist_ok=True)
    home = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the commands print the file names they write: short ones
        try:
            example("explain", "explain", "--save-map", "lam.npz")
            shutil.copy("lam.png", IMAGES / "lam.png")
            window = json.loads(Path("lam.json").read_text())["window"]
            example(
                "explain_window",
                "explain",
                "--window",
                f"{window['top']},{window['left']},{window['size']}",
                "--rule",
                "riemann_middle",
                "--out",
                "lam-middle.png",
                "--json",
                "lam-middle.json",
            )
            example("windows", "windows", "sample:chelsea", "--count", "5")
            compare(
                "compare_methods",
                "--model",
                "span-x4-ch48",
                "--methods",
                "saliency,ig,ig-blur,lam",
                keep_output=True,
            )
            compare("compare_models", "--models", ZOO_ROW, "--rule", "riemann_middle")
            example(
                "evaluate",
                "evaluate",
                "--models",
                "plain-d4,edsr-small",
                "--images",
                "sample:astronaut",
                "--centre-crop",
                "128",
                "--per-image",
                "2",
                "--steps",
                "20",
                "--out",
                "study.jsonl",
                "--figures",
                "figures",
            )
            example("models", "models")
        finally:
            os.chdir(home)
    cli_help()
    real_network_study()
    faithfulness_study()


def real_network_study() -> None:
    """Tables and figures of docs/real-networks.md from its committed records."""
    import runpy

    script = Path(__file__).with_name("real_network_study.py")
    module = runpy.run_path(str(script), run_name="real_network_study")
    module["main"](["--plot-only"])


def faithfulness_study() -> None:
    """Tables and figures of docs/faithfulness.md from its committed records."""
    import runpy

    script = Path(__file__).with_name("faithfulness_study.py")
    module = runpy.run_path(str(script), run_name="faithfulness_study")
    module["main"](["--plot-only"])


if __name__ == "__main__":
    with contextlib.redirect_stderr(io.StringIO()):
        main_figures()
    print(f"wrote {IMAGES} and {GENERATED}")
