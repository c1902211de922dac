"""The example on a machine whose last digits differ, emulated on this one.

OpenBLAS picks its kernels by CPU; ``OPENBLAS_CORETYPE=Prescott`` makes it use those of an
old x86-64 CPU without AVX, which changes the last digits of some results as another machine
does (p-values near 1e-12 differ in their twelfth significant digit). The pinned results and
``verify`` must hold there. Where the variable changes nothing (another BLAS, another
architecture), the test still checks that both pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.numbers import EXAMPLE_RESULTS, changes

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"
OTHER_CPU = {"OPENBLAS_CORETYPE": "Prescott"}


def _cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pilot_eval.cli", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def _blas_kernels(env: dict[str, str]) -> str | None:
    """The kernels numpy's OpenBLAS uses with ``env`` (None for another BLAS)."""
    script = (
        "import numpy; from threadpoolctl import threadpool_info; "
        "print(next((i.get('architecture') for i in threadpool_info() "
        "if i.get('internal_api') == 'openblas'), ''))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def test_pinned_results_and_verify_hold_where_last_digits_differ(tmp_path: Path) -> None:
    outputs = {}
    for name, env in (("here", {}), ("other", OTHER_CPU)):
        folder = tmp_path / name
        folder.mkdir()
        # verify reads only inside the folder it runs in: the plan and data are linked there
        (folder / "plans").symlink_to(PLAN.parent)
        (folder / "data").symlink_to(ROOT / "data" / "synthetic")
        args = ["run", f"plans/{PLAN.name}", "--data", "data", "--out", "out"]
        done = _cli([*args, "--no-pdf"], folder, env)
        assert done.returncode == 0, done.stderr
        outputs[name] = (folder / "out" / "results.json").read_text(encoding="utf-8")

    here, there = _blas_kernels({}), _blas_kernels(OTHER_CPU)
    if here is not None and there is not None and here != there:
        # the emulation took (e.g. SkylakeX and Katmai kernels): the last digits differ
        assert outputs["here"] != outputs["other"], (here, there)
    other = json.loads(outputs["other"])
    other.pop("software")
    pinned = EXAMPLE_RESULTS
    assert list(changes(other, json.loads(pinned.read_text(encoding="utf-8")))) == []

    # a reviewer on the other machine verifies the output made here
    done = _cli(["verify", "out"], tmp_path / "here", OTHER_CPU)
    assert done.returncode == 0, done.stdout + done.stderr
    if outputs["here"] == outputs["other"]:
        assert "byte-identical" in done.stdout
    else:
        assert "differ in their last digits only" in done.stdout
        # and asking for equal numbers shows what differs
        strict = _cli(["verify", "out", "--tolerance", "0"], tmp_path / "here", OTHER_CPU)
        assert strict.returncode == 1
        assert "NOT verified" in strict.stdout
