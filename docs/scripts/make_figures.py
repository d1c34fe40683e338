"""Regenerate every figure and generated table of the documentation from the real code.

    python docs/scripts/make_figures.py            # about a minute on a CPU

Writes docs/images/*.png and docs/generated/*.md. CI runs it before
`mkdocs build --strict`, so the pictures in the docs always come from the code.
"""

from __future__ import annotations

import contextlib
import io
import json
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


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(c[1] for c in columns) + " |"]
    lines.append("| " + " | ".join("---" for _ in columns) + " |")
    for r in rows:
        lines.append("| " + " | ".join(format(r[c[0]], c[2]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def compare(name: str, *argv: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        js = Path(tmp) / "t.json"
        run(
            "compare",
            *argv,
            "--out",
            str(IMAGES / f"{name}.png"),
            "--json",
            str(js),
            "--quiet",
        )
        payload = json.loads(js.read_text())
    columns = [("label", "row", "s"), ("diffusion_index", "DI", ".2f")]
    if "psnr_y_db" in payload["rows"][0]:
        columns.append(("psnr_y_db", "PSNR-Y (dB)", ".2f"))
    top, left, size = payload["window"]
    text = table(payload["rows"], columns)
    text += (
        f"\n*Window top={top}, left={left}, size={size} (output pixels) of "
        f"`{payload['image']}`, x{payload['scale']}.*\n"
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
    with tempfile.TemporaryDirectory() as tmp:
        run(
            "explain",
            "--out",
            str(IMAGES / "lam.png"),
            "--json",
            str(Path(tmp) / "lam.json"),
            "--quiet",
        )
    compare(
        "compare_methods",
        "--model",
        "span-x4-ch48",
        "--methods",
        "saliency,ig,ig-blur,lam",
    )
    compare("compare_models", "--models", ZOO_ROW, "--method", "riemann_middle")
    cli_help()
    real_network_study()


def real_network_study() -> None:
    """Tables and figures of docs/real-networks.md from its committed records."""
    import runpy

    script = Path(__file__).with_name("real_network_study.py")
    module = runpy.run_path(str(script), run_name="real_network_study")
    module["main"](["--plot-only"])


if __name__ == "__main__":
    with contextlib.redirect_stderr(io.StringIO()):
        main_figures()
    print(f"wrote {IMAGES} and {GENERATED}")
