"""Progress weighted by each point's work, in plain lines where stderr is not a terminal."""
import io
from dataclasses import dataclass

from helpers import simple_profile, write_scenario

from sim.progress import Progress
from sim.scenario import load_scenario, override


@dataclass
class _Job:
    scenario: object
    values: dict
    seed: int
    pid: str


def test_progress_counts_work_not_points(tmp_path):
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", simple_profile(tmp_path / "p"), schemes=["local", "split"]))
    small, big = override(sc, {"tasks.count": 100}), override(sc, {"tasks.count": 300})
    jobs = [_Job(small, {"tasks.count": 100}, 0, "a"), _Job(big, {"tasks.count": 300}, 0, "b")]
    out = io.StringIO()
    p = Progress("demo", jobs, done=set(), every_s=0.0, stream=out)
    assert p.total == (100 + 300) * 2  # tasks x devices x schemes
    p.update(jobs[0])
    p.update(jobs[1])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("demo: 1/2 points, 25% of the work") and "next: tasks.count=300, seed 0" in lines[0]
    assert lines[1].startswith("demo: 2/2 points, 100% of the work") and "ETA" in lines[1]
    quiet = io.StringIO()  # a run shorter than the period prints nothing
    q = Progress("demo", jobs, done=set(), every_s=60.0, stream=quiet)
    q.update(jobs[0])
    q.update(jobs[1])
    q.note("assembling")
    assert quiet.getvalue() == ""
    resumed = Progress("demo", jobs, done={"a"}, every_s=0.0, stream=io.StringIO())
    assert resumed.done_w == 200 and resumed.points_done == 1


def test_a_long_batch_sweep_says_it_draws_figures_a_short_one_stays_quiet(tmp_path, capsys, monkeypatch):
    from sim import progress
    from sim.cli import main

    sc = write_scenario(tmp_path / "s.yaml", simple_profile(tmp_path / "p"), schemes=["local", "split"],
                        sweep={"grid": {"channel.snr_db": [0, 10]}})
    assert main(["sweep", str(sc), "--out", str(tmp_path / "quiet")]) == 0
    assert "drawing figures" not in capsys.readouterr().err  # stderr is no terminal here, and the run short
    monkeypatch.setattr(progress, "EVERY_S", 0.0)  # as if it had run past a progress line's period
    assert main(["sweep", str(sc), "--out", str(tmp_path / "long")]) == 0
    err = capsys.readouterr().err
    assert "test: drawing figures" in err and "assembling the summaries" in err
