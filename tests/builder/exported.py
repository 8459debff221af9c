"""Data and ``edgekit.toml`` for an exported model (tests/builder/fixtures/exported_models.py).

Torch-free, so CI builds the committed fixtures with it. The data's labels are the fp32 model's
own argmax on the score output the config names (with the other inputs at the values the config
folds in), so the reference accuracy is 1.0 and a variant's accuracy is its agreement with fp32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.builder.fixtures.exported_models import Case

__all__ = ["FIXTURES", "SEVEN", "write_exported_case"]

FIXTURES = Path(__file__).parent / "fixtures" / "exported"
SEVEN = [
    "onnx-fp32", "onnx-fp16", "onnx-int8-dynamic", "onnx-int8-static",
    "tflite-fp32", "tflite-fp16", "tflite-int8",
]


def _reference_labels(model: Path, case: Case, x: np.ndarray) -> tuple[np.ndarray, int]:
    """Argmax of the score output (``output_name`` when the config names one, else the first
    float tensor output), computed with onnxruntime directly, not through edgekit."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    inputs = sess.get_inputs()
    outs = sess.get_outputs()
    wanted = "logits" if 'output_name = "logits"' in case.toml else None
    out = next(o for o in outs if (o.name == wanted if wanted else o.type in (
        "tensor(float)", "tensor(float16)")))
    fixed = inputs[0].shape[0] if isinstance(inputs[0].shape[0], int) else None
    dtype = np.float16 if inputs[0].type == "tensor(float16)" else np.float32
    scores = []
    step = fixed or len(x)
    for i in range(0, len(x), step):
        chunk = x[i : i + step].astype(dtype)
        feeds = {inputs[0].name: chunk}
        for spec in inputs[1:]:
            shape, dt, value = case.side[spec.name]
            feeds[spec.name] = np.full((len(chunk), *shape), value, dtype=dt)
        scores.append(np.asarray(sess.run([out.name], feeds)[0], dtype=np.float32))
    s = np.concatenate(scores).reshape(len(x), -1)
    return s.argmax(axis=1), s.shape[1]


def write_exported_case(
    tmp: Path, case: Case, model: Path, *, variants: list[str] | None = None, n: int = 48,
    runs: int = 10,
) -> Path:
    """Write ``data.npz`` and ``edgekit.toml`` for ``model`` (an export of ``case``) under ``tmp``,
    the way a user would from docs/config.md; returns the config's path."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((n, *case.sample)).astype(np.float32)
    # captures that differ in level and per-channel offset, so the predictions differ too
    channels_last = case.make in ("nhwc", "keras")
    ch = (n, *([1] * (len(case.sample) - 1)), case.sample[-1]) if channels_last else (
        n, case.sample[0], *([1] * (len(case.sample) - 1)))
    x = x * rng.uniform(0.2, 3.0, (n, *[1] * len(case.sample))) + rng.normal(0.0, 1.5, ch)
    x = x.astype(np.float32)
    if case.expect == "pass" or case.expect.startswith("model.inputs"):
        y, classes = _reference_labels(model, case, x)
    else:  # refused before the data is read: any labels do
        y, classes = np.zeros(n, dtype=np.int64), 4
    labels = np.array([f"class_{i}" for i in range(classes)])
    np.savez(tmp / "data.npz", x=x, y=y, labels=labels, meta_snr_db=rng.uniform(-5, 20, n))
    names = variants or SEVEN
    rel = Path(model).resolve()
    toml = (
        "schema = 1\n"
        + "variants = [" + ", ".join(f'"{v}"' for v in names) + "]\n"
        + f'[model]\npath = "{rel}"\nname = "{case.name}"\noutput = "{case.output}"\n'
        + case.toml
        + '[data]\ncalibration = "data.npz"\nevaluation = "data.npz"\ncalibration_size = 32\n'
        + f"[profile]\nruns = {runs}\nwarmup = 2\nmax_reruns = 0\n"
        + "[quant]\naccuracy_aware = false\n"
    )
    cfg = tmp / "edgekit.toml"
    cfg.write_text(toml)
    return cfg
