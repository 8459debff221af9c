"""int8 against fp32, as measured: quantisation is meant to make a model smaller and faster, and
when the graph it started from was not optimised it can do neither. Every int8 variant gets a
note saying whether it came out smaller and faster than its fp32 counterpart (host figures of
this build); one that came out larger or slower is also a build warning.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgekit.results import VariantResult

__all__ = ["FP32_OF", "compare_int8"]

# Each int8 variant and the fp32 variant of the same runtime it should beat.
FP32_OF = {
    "onnx-int8-static": "onnx-fp32",
    "onnx-int8-dynamic": "onnx-fp32",
    "tflite-int8": "tflite-fp32",
}


def compare_int8(variants: Sequence[VariantResult]) -> list[str]:
    """Add a size and p50 comparison to each int8 variant's notes; return the warnings."""
    by = {v.name: v for v in variants if v.status == "built"}
    warnings: list[str] = []
    for q_name, f_name in FP32_OF.items():
        q, f = by.get(q_name), by.get(f_name)
        if q is None or f is None or not q.size_bytes or not f.size_bytes:
            continue
        size = q.size_bytes / f.size_bytes
        parts = [
            f"{q.size_bytes / 1024:.1f} KiB vs {f_name} {f.size_bytes / 1024:.1f} KiB "
            f"({'larger' if size > 1 else 'smaller'}, x{size:.2f})"
        ]
        slower = False
        if q.latency is not None and f.latency is not None and f.latency.p50_ms > 0:
            speed = q.latency.p50_ms / f.latency.p50_ms
            slower = speed > 1
            parts.append(
                f"p50 {q.latency.p50_ms:.3g} ms vs {f.latency.p50_ms:.3g} ms "
                f"({'slower' if slower else 'faster'}, x{speed:.2f}; measured on this host, "
                f"{q.latency.runs} runs)"
            )
        note = f"int8 vs fp32: {'; '.join(parts)}"
        q.notes.append(note)
        if size > 1 or slower:
            what = " and ".join(w for w, bad in (("larger", size > 1), ("slower", slower)) if bad)
            warnings.append(f"{q_name} came out {what} than {f_name}: {'; '.join(parts)}")
    return warnings
