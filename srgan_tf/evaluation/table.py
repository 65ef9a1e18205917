"""The table papers print: a row per model (HR and bicubic first), a PSNR/SSIM (and NIQE) column group per
benchmark, means over each benchmark's images; as text for the console, Markdown for a README, CSV and JSON
for programs."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from typing import List, Optional, Sequence

from srgan_tf.common.files import write_text_atomic
from srgan_tf.evaluation.report import NIQE_NOTE, json_number
from srgan_tf.evaluation.scoring import BenchmarkResult, EvalConfig
from srgan_tf.evaluation.upscalers import BICUBIC

HR = "HR"  # the row of the benchmark's own images: NIQE's natural floor
CSV_COLUMNS = ("model", "benchmark", "images", "psnr", "ssim", "niqe")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One model's means on one benchmark; None where a figure does not apply or was not measured."""

    model: str
    benchmark: str
    images: int
    psnr: Optional[float]
    ssim: Optional[float]
    niqe: Optional[float]


def table_cells(results: Sequence[Sequence[BenchmarkResult]], labels: Sequence[str],
                config: EvalConfig) -> List[Cell]:
    """The cells of every benchmark, `results[b][m]` being benchmark b's result for the model labelled
    `labels[m]`: an HR row (with NIQE), the bicubic row, then a row per model. A model that is bicubic itself
    adds no row of its own: its figures are the bicubic row's."""
    cells = []
    for per_model in results:
        benchmark = per_model[0].benchmark.name
        mean = next((m for m in (r.mean() for r in per_model) if m is not None), None) or {}
        images = len(per_model[0].images)
        if config.niqe:
            cells.append(Cell(HR, benchmark, mean.get("niqe_images", 0), None, None, mean.get("hr_niqe")))
        cells.append(Cell(BICUBIC, benchmark, images, mean.get("bicubic_psnr"), mean.get("bicubic_ssim"),
                          mean.get("bicubic_niqe")))
        for label, result in zip(labels, per_model):
            if label == BICUBIC:
                continue
            own = result.mean() or {}
            cells.append(Cell(label, benchmark, len(result.images), own.get("psnr"), own.get("ssim"),
                              own.get("niqe")))
    return cells


def _title(config: EvalConfig) -> str:
    niqe = f"; {NIQE_NOTE}, same border" if config.niqe else ""
    return (f"x{config.scale}, mean PSNR (dB) / SSIM on {config.channel}, {config.border}-pixel border removed"
            f"{niqe}")


def _grid(cells: Sequence[Cell], config: EvalConfig):
    """(benchmarks, models, columns, rows of formatted figures): the table's layout for text and Markdown."""
    benchmarks = list(dict.fromkeys(c.benchmark for c in cells))
    models = list(dict.fromkeys(c.model for c in cells))
    metrics = ("psnr", "ssim", "niqe") if config.niqe else ("psnr", "ssim")
    formats = {"psnr": "{:.2f}", "ssim": "{:.4f}", "niqe": "{:.4f}"}
    by_key = {(c.model, c.benchmark): c for c in cells}
    rows = []
    for model in models:
        row = []
        for benchmark in benchmarks:
            cell = by_key.get((model, benchmark))
            for metric in metrics:
                value = cell and getattr(cell, metric)
                row.append("-" if value is None else formats[metric].format(value))
        rows.append(row)
    columns = [f"{benchmark} {metric.upper()}" for benchmark in benchmarks for metric in metrics]
    return benchmarks, models, columns, rows


def format_text(cells: Sequence[Cell], config: EvalConfig) -> str:
    """The table for the console, aligned."""
    _, models, columns, rows = _grid(cells, config)
    name_width = max(len(m) for m in models + ["model"])
    widths = [max(len(column), 7) for column in columns]
    lines = [_title(config), f"{'model':<{name_width}}" + "".join(f" {c:>{w}}" for c, w in zip(columns, widths))]
    for model, row in zip(models, rows):
        lines.append(f"{model:<{name_width}}" + "".join(f" {v:>{w}}" for v, w in zip(row, widths)))
    return "\n".join(lines)


def format_markdown(cells: Sequence[Cell], config: EvalConfig) -> str:
    """The table as Markdown, ready to paste into a README."""
    _, models, columns, rows = _grid(cells, config)
    lines = [f"{_title(config)}.", "", "| model | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]
    lines += [f"| {model} | " + " | ".join(row) + " |" for model, row in zip(models, rows)]
    return "\n".join(lines) + "\n"


def format_csv(cells: Sequence[Cell]) -> str:
    """One row per model and benchmark, figures at full precision (empty where none)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for cell in cells:
        writer.writerow({k: "" if v is None else v for k, v in dataclasses.asdict(cell).items()})
    return out.getvalue()


def format_json(cells: Sequence[Cell], config: EvalConfig) -> str:
    return json.dumps({"scale": config.scale, "channel": config.channel, "shave": config.border,
                       "made_lr": config.made_lr, "niqe": NIQE_NOTE if config.niqe else None,
                       "rows": [{k: json_number(v) if isinstance(v, float) else v
                                 for k, v in dataclasses.asdict(cell).items()} for cell in cells]},
                      indent=2, allow_nan=False)


def write_table(output_dir: str, cells: Sequence[Cell], config: EvalConfig) -> List[str]:
    """Writes table.md, table.csv and table.json atomically; returns their paths."""
    texts = {"table.md": format_markdown(cells, config), "table.csv": format_csv(cells),
             "table.json": format_json(cells, config)}
    paths = []
    for name, text in texts.items():
        paths.append(os.path.join(output_dir, name))
        write_text_atomic(paths[-1], text)
    return paths
