"""An evaluation's results as a console table, and as CSV and JSON files for other programs."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
from typing import Sequence, Tuple

from srgan_tf.common.files import write_text_atomic
from srgan_tf.evaluation.scoring import BenchmarkResult, EvalConfig, ImageResult


NIQE_NOTE = "NIQE: lower is more natural"


def _niqe_cells(values, config: EvalConfig) -> str:
    """The NIQE columns of a row (model, bicubic, HR), blank where an image had none; empty without --niqe."""
    if not config.niqe:
        return ""
    return "".join(f" {'' if v is None else f'{v:.2f}':>{width}}" for v, width in zip(values, (6, 13, 8)))


def format_table(result: BenchmarkResult, model_name: str, config: EvalConfig) -> str:
    """Per-image and mean PSNR/SSIM (and NIQE) of the model beside bicubic's, with what was skipped."""
    name_width = max([len(r.name) for r in result.images] + [12])
    niqe_header = f" {'NIQE':>6} {'bicubic NIQE':>13} {'HR NIQE':>8}" if config.niqe else ""
    lines = [
        f"{result.benchmark.name} x{config.scale}, model {model_name}: PSNR (dB) and SSIM on "
        f"{config.channel}, {config.border}-pixel border removed{_lr_note(result, config)}"
        f"{'; ' + NIQE_NOTE + ', same border' if config.niqe else ''}",
        f"{'image':<{name_width}} {'PSNR':>7} {'SSIM':>7} {'bicubic PSNR':>13} {'bicubic SSIM':>13}"
        f"{niqe_header} {'seconds':>8}",
    ]
    for r in result.images:
        lines.append(f"{r.name:<{name_width}} {r.psnr:>7.2f} {r.ssim:>7.4f} {r.bicubic_psnr:>13.2f} "
                     f"{r.bicubic_ssim:>13.4f}{_niqe_cells((r.niqe, r.bicubic_niqe, r.hr_niqe), config)} "
                     f"{r.seconds:>8.2f}")
    mean = result.mean()
    if mean is not None:
        label = f"mean ({len(result.images)})"
        niqe_means = (mean.get("niqe"), mean.get("bicubic_niqe"), mean.get("hr_niqe"))
        lines.append(f"{label:<{name_width}} {mean['psnr']:>7.2f} {mean['ssim']:>7.4f} "
                     f"{mean['bicubic_psnr']:>13.2f} {mean['bicubic_ssim']:>13.4f}"
                     f"{_niqe_cells(niqe_means, config)}")
    for failure in result.failures:
        lines.append(f"skipped: {failure.reason}")
    return "\n".join(lines)


def _lr_note(result: BenchmarkResult, config: EvalConfig) -> str:
    return "" if result.benchmark.lr_dir or config.made_lr == "bicubic" else f"; LR by {config.made_lr}"


def format_summary(results: Sequence[BenchmarkResult], labels: Sequence[str], config: EvalConfig) -> str:
    """One line comparing the models' mean PSNR/SSIM on a benchmark with bicubic's."""
    means = [(label, mean) for label, mean in zip(labels, (result.mean() for result in results))
             if mean is not None]
    if not means:
        return f"{results[0].benchmark.name}: no image evaluated"
    bicubic = means[0][1]
    shown = ", ".join(f"{label} {mean['psnr']:.2f} dB / {mean['ssim']:.4f} "
                      f"({mean['psnr'] - mean['bicubic_psnr']:+.2f} dB)" for label, mean in means)
    return (f"{results[0].benchmark.name} x{config.scale} mean PSNR / SSIM on {config.channel}: bicubic "
            f"{bicubic['bicubic_psnr']:.2f} dB / {bicubic['bicubic_ssim']:.4f}, {shown}")


def json_number(value):
    """JSON has no infinity: the PSNR of a perfect reconstruction is written as the string "inf"."""
    return value if math.isfinite(value) else str(value)


def to_json(result: BenchmarkResult, model_name: str, config: EvalConfig) -> str:
    mean = result.mean()
    images = [{k: json_number(v) if isinstance(v, float) else v for k, v in dataclasses.asdict(r).items()}
              for r in result.images]
    return json.dumps({
        "benchmark": result.benchmark.name,
        "hr_dir": result.benchmark.hr_dir,
        "lr_dir": result.benchmark.lr_dir,  # null: LR made from HR as "made_lr" says
        "made_lr": None if result.benchmark.lr_dir else config.made_lr,
        "degradation": (dataclasses.asdict(config.degradations)
                        if config.made_lr != "bicubic" and not result.benchmark.lr_dir else None),
        "model": model_name,
        "scale": config.scale,
        "shave": config.border,
        "channel": config.channel,
        "num_images": len(result.images),
        "mean": mean and {k: json_number(v) for k, v in mean.items()},
        "images": images,
        "failures": [dataclasses.asdict(f) for f in result.failures],
    }, indent=2, allow_nan=False)


def to_csv(result: BenchmarkResult) -> str:
    """One row per evaluated image (no mean row, so the column means stay the means)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[f.name for f in dataclasses.fields(ImageResult)])
    writer.writeheader()
    writer.writerows(dataclasses.asdict(r) for r in result.images)
    return text.getvalue()


def write_reports(output_dir: str, result: BenchmarkResult, model_name: str,
                  config: EvalConfig) -> Tuple[str, str]:
    """Writes `<benchmark>.csv` and `<benchmark>.json` atomically; returns their paths."""
    csv_path = os.path.join(output_dir, f"{result.benchmark.name}.csv")
    json_path = os.path.join(output_dir, f"{result.benchmark.name}.json")
    write_text_atomic(csv_path, to_csv(result))
    write_text_atomic(json_path, to_json(result, model_name, config))
    return csv_path, json_path
