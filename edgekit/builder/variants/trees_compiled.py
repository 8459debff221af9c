"""``trees-compiled``: the tree ensemble compiled to a shared library (Treelite + TL2cgen + gcc).

One library for this machine, measured here like every variant, and, for a Raspberry Pi target,
the same C cross-compiled for aarch64 with Debian's ``aarch64-linux-gnu-gcc`` and shipped beside
it; the backend loads the one built for the machine it runs on. ``trees-compiled`` compiles every
tree (the same predictions as onnx-fp32); ``trees-compiled-truncated`` compiles the boosting
rounds that ``trees-truncated`` chose (it leaves them in ``ctx.extra``).
"""

from __future__ import annotations

import onnx

from edgekit.backends.compiled_trees import host_machine
from edgekit.builder.variants.base import BuildContext, Built, Skip
from edgekit.builder.variants.trees_common import output_layout, tree_ensemble
from edgekit.trees.compile import CROSS_TOOLCHAINS, CompilerMissing, compile_ensemble
from edgekit.trees.ensemble import read_ensemble

__all__ = ["TRUNCATED_MODEL_KEY", "TreesCompiled", "TreesCompiledTruncated"]

TRUNCATED_MODEL_KEY = "trees_truncated_model"
"""``ctx.extra`` key under which ``trees-truncated`` leaves its chosen (model, rounds)."""

_TARGET_MACHINE = {"rpi4b": "aarch64", "rpi5": "aarch64", "zero2w": "aarch64", "cm4": "aarch64"}


class TreesCompiled:
    """Tree ensemble -> C -> shared library per machine, loaded by ``edgekit.backends.compiled_trees``."""

    name = "trees-compiled"
    runtime = "tl2cgen"
    precision = "fp32"
    truncated = False

    def build(self, ctx: BuildContext) -> Built:
        ens = tree_ensemble(ctx)
        outputs, label = output_layout(ctx)
        notes = []
        if self.truncated:
            chosen = ctx.extra.get(TRUNCATED_MODEL_KEY)
            if not (isinstance(chosen, tuple) and isinstance(chosen[0], onnx.ModelProto)):
                raise Skip("trees-truncated did not build (it is skipped or not in the variant list)")
            ens = read_ensemble(chosen[0], ctx.model_path)
            notes.append(f"the first {chosen[1]} boosting rounds, as chosen by trees-truncated")
        host = host_machine()
        if host not in CROSS_TOOLCHAINS:
            raise Skip(f"no C compiler known for this machine ({host})")
        machines = [host]
        target = _TARGET_MACHINE.get(ctx.config.target.board)
        if target is not None and target != host:
            machines.append(target)
        libraries: dict[str, str] = {}
        sizes: dict[str, int] = {}
        for i, machine in enumerate(machines):
            name = f"{self.name}.so" if i == 0 else f"{self.name}.{machine}.so"
            scratch = ctx.work_dir / f"_{self.name}-{machine}"
            try:
                lib = compile_ensemble(ens, ctx.work_dir / name, machine=machine, work_dir=scratch)
            except CompilerMissing as e:
                why = f" (target board {ctx.config.target.board})" if machine == target else ""
                raise Skip(f"{e}{why}") from e
            libraries[machine] = name
            sizes[machine] = lib.path.stat().st_size
            kib = sizes[machine] / 1024
            notes.append(f"{machine}: {lib.toolchain}, {kib:.0f} KiB as compiled, ELF checked")
        if len(machines) > 1:
            notes.append(
                f"the {', '.join(machines[1:])} library is built from the same C but not run on this "
                f"{host} host; `edgekit bench` on the board measures it"
            )
        return Built(
            ctx.work_dir / libraries[host],
            notes=[f"{ens.n_trees} trees compiled with Treelite + TL2cgen", *notes],
            meta={
                "extra_files": [n for m, n in libraries.items() if m != host],
                "trees": ens.n_trees,
                "library_bytes": sizes,
            },
            backend_options={
                "libraries": libraries,
                "input_name": ctx.input_name,
                "outputs": outputs,
                "label_output": label,
            },
        )


class TreesCompiledTruncated(TreesCompiled):
    """The boosting rounds ``trees-truncated`` kept, compiled like ``trees-compiled``."""

    name = "trees-compiled-truncated"
    truncated = True
