"""Rewrites the generated results table in docs/benchmarks.md from tenancy-bench --json output.

Usage: write_benchmarks.py RESULTS_JSONL BENCHMARKS_MD COMMAND

The table goes between the marker lines `<!-- results:start -->` and `<!-- results:end -->`;
the rest of the page is left as written.
"""

import datetime
import json
import platform
import sys

START = "<!-- results:start -->"
END = "<!-- results:end -->"


def main() -> None:
    results_path, page_path, command = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(results_path) as results:
        rows = [json.loads(line) for line in results if line.strip()]

    lines = [
        START,
        f"Measured {datetime.date.today().isoformat()} on {platform.machine()} "
        f"({platform.system()}), command `{command}` (release build).",
        "",
        "| Measure | Ratio | Ours | Baseline | Baseline is | Better |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| `{row['name']}` | {row['ratio']:.3f} | {row['ours']:.3f} {row['unit']} "
            f"| {row['baseline']:.3f} {row['unit']} | {row['baseline_name']} | {row['direction']} |"
        )
    lines.append(END)

    with open(page_path) as page:
        text = page.read()
    if START not in text or END not in text:
        sys.exit(f"{page_path} has no {START} ... {END} markers")
    before = text[: text.index(START)]
    after = text[text.index(END) + len(END):]
    with open(page_path, "w") as page:
        page.write(before + "\n".join(lines) + after)


if __name__ == "__main__":
    main()
