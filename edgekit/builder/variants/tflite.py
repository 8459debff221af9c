"""TFLite fp32, fp16 and full-integer int8, converted by onnx2tf in its own pinned environment.

One onnx2tf run yields all three precisions, so the first TFLite variant converts the ones the
build asked for and the others pick up their files from that run.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

from edgekit.builder.variants.base import BuildContext, Built, Skip
from edgekit.errors import ConversionError

__all__ = ["TFLITE_NAMES", "TfliteFp16", "TfliteFp32", "TfliteInt8"]

Precision = Literal["fp32", "fp16", "int8"]
TFLITE_NAMES: dict[str, Precision] = {"tflite-fp32": "fp32", "tflite-fp16": "fp16", "tflite-int8": "int8"}
_CACHE_KEY = "tflite_converted"
_WANTED_KEY = "tflite_wanted"


def _convert_all(ctx: BuildContext) -> dict[str, Any]:
    from edgekit.builder.converter import ConverterDisabledError, convert_to_tflite_variants

    cached: dict[str, Any] | None = ctx.extra.get(_CACHE_KEY)
    if cached is not None:
        return cached
    wanted: list[Precision] = [
        p for n, p in TFLITE_NAMES.items() if n in ctx.extra.get(_WANTED_KEY, TFLITE_NAMES)
    ]
    if ctx.calibration is None and "int8" in wanted:
        wanted.remove("int8")
    tmp = ctx.work_dir / "_tflite"
    # One onnx2tf run for all precisions; its log is copied to variants/NAME.convert.log for each.
    log = (ctx.scratch or ctx.work_dir) / "onnx2tf.convert.log"
    first = next(n for n, p in TFLITE_NAMES.items() if p in wanted) if wanted else "tflite"
    try:
        converted = convert_to_tflite_variants(
            ctx.model_path,
            tmp,
            precisions=wanted,
            calibration=ctx.calibration,
            verify_inputs=None if ctx.calibration is None else ctx.calibration[:16],
            quant_type="per-channel" if ctx.config.quant.per_channel else "per-tensor",
            progress=lambda line: ctx.log(f"  {line}"),
            log_path=log,
            log_label=f"variants/{first}.convert.log",
        )
        result: dict[str, Any] = {"ok": converted}
    except ConverterDisabledError as e:
        result = {"skip": str(e)}
    except ConversionError as e:
        result = {"error": e, "first": first}
    result["log"] = log
    ctx.extra[_CACHE_KEY] = result
    return result


class _Tflite:
    name = ""
    runtime = "tflite"
    precision = ""

    def build(self, ctx: BuildContext) -> Built:
        if not ctx.info.tflite_convertible:
            raise Skip(f"TFLite does not apply: {ctx.info.tflite_reason}")
        if self.precision == "int8" and ctx.calibration is None:
            raise Skip("full-integer int8 needs calibration data ([data] calibration)")
        res = _convert_all(ctx)
        if "skip" in res:
            raise Skip(res["skip"])
        log = res.get("log")
        if isinstance(log, Path) and log.is_file():
            shutil.copyfile(log, ctx.work_dir / f"{self.name}.convert.log")
        if "error" in res:
            if res["first"] != self.name:  # said once, by the first TFLite variant
                raise ConversionError(
                    f"the shared onnx2tf run failed (see {res['first']}); "
                    f"log: variants/{self.name}.convert.log"
                )
            raise res["error"]
        cm = res["ok"].get(self.precision)
        if cm is None:
            raise ConversionError(f"the converter produced no {self.precision} model")
        target = ctx.work_dir / f"{self.name}.tflite"
        shutil.move(str(cm.tflite_path), target)
        sidecar = Path(cm.tflite_path).with_suffix(".layout.json")
        extra: list[str] = []
        if sidecar.exists():
            shutil.move(str(sidecar), target.with_suffix(".layout.json"))
            extra.append(target.with_suffix(".layout.json").name)
        v = cm.verification
        notes = [
            f"onnx2tf {cm.converter_versions.get('onnx2tf', '?')} / tensorflow "
            f"{cm.converter_versions.get('tensorflow', '?')} in {cm.duration_s:.1f} s; input layout "
            f"{cm.input_layout}",
            f"converter check vs onnxruntime on {v.n_samples} {v.inputs}: max abs diff "
            f"{v.max_abs_diff:.3g}, argmax agreement {v.argmax_agreement:.3f}",
            *cm.notes,
        ]
        if cm.input_quantization:
            s, z = cm.input_quantization
            notes.append(f"int8 input scale {s:.6g} zero point {z}; the backend quantises inputs")
        meta = {
            "converter_versions": cm.converter_versions,
            "converter_command": " ".join(
                Path(c).name if i < 3 else c for i, c in enumerate(cm.command)
            ),
            "input_layout": cm.input_layout,
            "input_quantization": cm.input_quantization,
            "output_quantization": cm.output_quantization,
            "extra_files": extra,
        }
        return Built(target, notes=notes, meta=meta)


class TfliteFp32(_Tflite):
    name, precision = "tflite-fp32", "fp32"


class TfliteFp16(_Tflite):
    name, precision = "tflite-fp16", "fp16"


class TfliteInt8(_Tflite):
    name, precision = "tflite-int8", "int8"
