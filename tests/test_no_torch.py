"""The simulator runs where torch cannot be imported."""
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import simple_profile, write_scenario

pytestmark = pytest.mark.slow  # tens of thousands of tasks, or a subprocess

ROOT = Path(__file__).resolve().parents[1]


def test_simulator_runs_without_torch(tmp_path):
    sc = write_scenario(tmp_path / "s.yaml", simple_profile(tmp_path / "p"), schemes=["local", "split"])
    code = ("import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None; "
            "from sim.cli import main; "
            f"raise SystemExit(main(['run', {str(sc)!r}, '--out', {str(tmp_path / 'out')!r}]))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "figures" / "hit_rate.png").exists()


def test_evaluate_runs_without_torch_and_other_commands_say_what_to_install():
    prof = ROOT / "profiles" / "fashion-mnist-resnet50"
    code = ("import sys; sys.modules['torch'] = None; from models.cli import main; "
            f"raise SystemExit(main(['evaluate', {str(prof)!r}]))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "| scheme |" in res.stdout
    code = "import sys; sys.modules['torch'] = None; from models.cli import main; raise SystemExit(main(['train']))"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "pip install" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("argv,usage", [(["train", "--help"], "aecnn-models train"),
                                        (["train", "aecnn", "--help"], "--bits"),
                                        (["profile", "-h"], "--out"), (["pipeline", "--help"], "--ratios"),
                                        (["time", "--help"], "--hardware")])
def test_every_subcommands_help_reads_without_torch(argv, usage):
    code = f"import sys; sys.modules['torch'] = None; from models.cli import main; raise SystemExit(main({argv!r}))"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: aecnn-models") and usage in res.stdout
    assert "torch" not in res.stderr
