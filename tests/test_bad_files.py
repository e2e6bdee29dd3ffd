"""Bad traces, profiles, samples, results folders and sizes: one line naming file, key and value, exit 2.

Each case runs through the command line with one worker and with two, so that an error raised
where the work runs reaches the user the same way.
"""
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import simple_profile, write_scenario

from sim.cli import main
from sim.errors import ConfigError


def _sweep(capsys, path, out, workers, *extra):
    code = main(["sweep", str(path), "--out", str(out), "--workers", str(workers), "--no-plot", *extra])
    captured = capsys.readouterr()
    return code, captured.err.strip()


def _assert_one_line(code, err, *words):
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert str(w) in err, (w, err)


@pytest.fixture
def base(tmp_path):
    prof = simple_profile(tmp_path / "p")
    return tmp_path, prof


ARRIVAL_TRACES = [
    ("missing", None, "tasks.arrival.trace"),
    ("empty", "", "is empty"),
    ("no time column", "t\n0.1\n", "time_s"),
    ("not numeric", "time_s\n0.1\nsoon\n", "soon"),
    ("nan", "time_s\n0.1\nnan\n", "time_s (row 2)"),
    ("negative", "time_s\n-0.5\n0.1\n", "-0.5"),
    ("unsorted", "time_s\n0.3\n0.1\n", "time_s (row 2)"),
    ("infinite", "time_s\n0.1\ninf\n", "inf"),
    ("header only", "time_s\n", "no rows"),
]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("name,text,word", ARRIVAL_TRACES, ids=[c[0] for c in ARRIVAL_TRACES])
def test_bad_arrival_trace(base, capsys, workers, name, text, word):
    tmp, prof = base
    trace = tmp / "arrivals.csv"
    if text is not None:
        trace.write_text(text)
    sc = write_scenario(tmp / "s.yaml", prof, tasks={"arrival": {"process": "trace", "trace": "arrivals.csv"},
                                                     "count": 2, "deadline_ms": 100})
    code, err = _sweep(capsys, sc, tmp / "out", workers)
    _assert_one_line(code, err, "arrivals.csv", word)
    assert not (tmp / "out" / "points").exists() or not list((tmp / "out" / "points").iterdir())


SNR_TRACES = [
    ("empty", "", "is empty"),
    ("nan time", "time_s,snr_db\n0,5\nnan,3\n", "time_s (row 2)"),
    ("nan snr", "time_s,snr_db\n0,5\n1,nan\n", "snr_db (row 2)"),
    ("snr beyond range", "time_s,snr_db\n0,1e6\n", "snr_db (row 1)"),
    ("times repeat", "time_s,snr_db\n0,5\n0,3\n", "increasing"),
    ("no snr column", "time_s,snr\n0,5\n", "snr_db"),
]


@pytest.mark.parametrize("name,text,word", SNR_TRACES, ids=[c[0] for c in SNR_TRACES])
def test_bad_snr_trace(base, capsys, name, text, word):
    tmp, prof = base
    (tmp / "snr.csv").write_text(text)
    sc = write_scenario(tmp / "s.yaml", prof, channel={"fading": {"model": "trace", "trace": "snr.csv"}})
    code, err = _sweep(capsys, sc, tmp / "out", 2)
    _assert_one_line(code, err, "snr.csv", word)


def test_nan_snr_is_named_as_the_snr_not_the_time(base, capsys):
    tmp, prof = base
    (tmp / "snr.csv").write_text("time_s,snr_db\n0,5\n1,nan\n")
    sc = write_scenario(tmp / "s.yaml", prof, channel={"fading": {"model": "trace", "trace": "snr.csv"}})
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    assert code == 2 and "snr_db" in err and "time_s" not in err.split("snr.csv: ")[1]


def test_non_utf8_scenario_and_profile(base, capsys):
    tmp, prof = base
    bad = tmp / "bad.yaml"
    bad.write_bytes(b"name: \xff\xfe\n")
    code, err = _sweep(capsys, bad, tmp / "out", 1)
    _assert_one_line(code, err, "bad.yaml", "UTF-8")
    (prof / "profile.yaml").write_bytes((prof / "profile.yaml").read_bytes() + b"# \xff\n")
    code, err = _sweep(capsys, write_scenario(tmp / "s.yaml", prof), tmp / "out", 1)
    _assert_one_line(code, err, "profile.yaml", "UTF-8")



def test_malformed_yaml_names_the_problem_as_pyyaml_does(base, capsys):
    """libyaml parses; a document it refuses is read again by PyYAML, whose message names the tab."""
    tmp, _ = base
    bad = tmp / "bad.yaml"
    bad.write_text("name: x\nseeds:\n\t- 1\n")
    code, err = _sweep(capsys, bad, tmp / "out", 1)
    _assert_one_line(code, err, "bad.yaml", "found character '")  # (libyaml: "found character that")
    assert "line 3" in err and "is not valid YAML" in err


def test_every_shipped_yaml_reads_as_pyyaml_reads_it():
    from pathlib import Path

    from sim.schema import load_yaml_mapping

    root = Path(__file__).resolve().parents[1]
    files = [*root.glob("scenarios/*.yaml"), *root.glob("profiles/*/profile.yaml")]
    assert len(files) >= 10
    for f in files:
        assert load_yaml_mapping(f, "keys") == yaml.safe_load(f.read_text()), f

SCENARIO_CASES = [
    ("seeds negative", {"seeds": [0, -1]}, "seeds", "-1"),
    ("seeds repeated", {"seeds": [3, 3]}, "seeds", "3"),
    ("grid value repeated", {"sweep": {"grid": {"channel.snr_db": [1, 2, 1]}}}, "sweep.grid.channel.snr_db", "1"),
    ("grid value repeated as a float", {"sweep": {"grid": {"channel.snr_db": [0, 5, 0.0]}}},
     "sweep.grid.channel.snr_db", "same point as 0"),
    ("grid window beyond 1e9 s", {"faults": {"edge": {"windows_s": [[0, 1e300]]}}}, "faults.edge.windows_s",
     "end <= 1e+09; [0.0, 1e+300] is not"),
    ("grid not a mapping", {"sweep": {"grid": [1, 2]}}, "sweep.grid", "[1, 2]"),
    ("grid key not a string", {"sweep": {"grid": {5: [1, 2]}}}, "sweep.grid", "5"),
    ("grid nested mapping", {"sweep": {"grid": {"channel": {"snr_db": [1]}}}}, "sweep.grid.channel", "snr_db"),
    ("snr infinite", {"channel": {"snr_db": float("inf")}}, "channel.snr_db", "inf"),
    ("snr minus infinite", {"channel": {"snr_db": float("-inf")}}, "channel.snr_db", "-inf"),
    ("snr beyond physics", {"channel": {"snr_db": 1e6}}, "channel.snr_db", "[-100, 100]"),
    ("bandwidth infinite", {"channel": {"bandwidth_hz": float("inf")}}, "channel.bandwidth_hz", "finite"),
    ("deadline huge", {"tasks": {"arrival": {"process": "periodic", "period_ms": 10}, "count": 2,
                                 "deadline_ms": 1e300}}, "tasks.deadline_ms", "1e+300"),
    ("speed huge", {"edge": {"hardware": "hw", "speed": 1e12}}, "edge.speed", "(0, 1e+06]"),
    ("period with poisson", {"tasks": {"arrival": {"process": "poisson", "rate_per_s": 5, "period_ms": 10},
                                       "count": 2}}, "tasks.arrival.period_ms", "poisson"),
    ("efficiency with cqi", {"channel": {"rate": {"model": "cqi", "efficiency": 0.5}}},
     "channel.rate.efficiency", "cqi"),
    ("coherence without fading", {"channel": {"fading": {"model": "none", "coherence_ms": 3}}},
     "channel.fading.coherence_ms", "none"),
    ("name climbs out of results", {"name": "../../escape"}, "name", "../../escape"),
    ("name with a slash", {"name": "a/b"}, "name", "a/b"),
    ("a billion devices", {"devices": {"count": 10**9, "hardware": "hw", "speed": 1.0}}, "devices.count",
     "1000000000"),
]


@pytest.mark.parametrize("name,sections,key,value", SCENARIO_CASES, ids=[c[0] for c in SCENARIO_CASES])
def test_bad_scenario_value(base, capsys, name, sections, key, value):
    tmp, prof = base
    path = write_scenario(tmp / "s.yaml", prof, **sections)
    code, err = _sweep(capsys, path, tmp / "out", 2)
    _assert_one_line(code, err, "s.yaml", key, value)


def test_schemes_missing_is_an_error(base, capsys):
    tmp, prof = base
    path = write_scenario(tmp / "s.yaml", prof)
    data = yaml.safe_load(path.read_text())
    del data["schemes"]
    path.write_text(yaml.safe_dump(data))
    code, err = _sweep(capsys, path, tmp / "out", 1)
    _assert_one_line(code, err, "schemes", "required")


def test_keys_that_apply_to_some_swept_point_are_accepted(base, capsys):
    tmp, prof = base
    path = write_scenario(tmp / "s.yaml", prof, channel={"fading": {"model": "none", "coherence_ms": 3}},
                          sweep={"grid": {"channel.fading.model": ["none", "rayleigh"]}})
    code, err = _sweep(capsys, path, tmp / "out", 1)
    assert code == 0, err


def _edit_profile(prof, fn):
    meta = yaml.safe_load((prof / "profile.yaml").read_text())
    fn(meta)
    (prof / "profile.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


PROFILE_CASES = [
    ("latency not numeric", lambda m: m["stages"]["tail"]["latency_ms"]["hw"].update({1: "fast"}),
     "stages.tail.latency_ms.hw.1", "fast"),
    ("latency nan", lambda m: m["stages"]["tail"]["latency_ms"]["hw"].update({1: float("nan")}),
     "stages.tail.latency_ms.hw.1", "nan"),
    ("batch zero", lambda m: m["stages"]["tail"]["latency_ms"]["hw"].update({0: 1.0}),
     "stages.tail.latency_ms.hw.0", "batch size"),
    ("batch word", lambda m: m["stages"]["tail"]["latency_ms"]["hw"].update({"many": 1.0}),
     "stages.tail.latency_ms.hw.many", "batch size"),
    ("null stage list", lambda m: m["schemes"]["split"].update({"edge": None}), "schemes.split.edge", "None"),
    ("bytes column not a string", lambda m: m["schemes"]["split"].update({"bytes_column": 7}),
     "schemes.split.bytes_column", "7"),
    ("schemes as a list", lambda m: m.update({"schemes": ["split", "local"]}), "schemes", "split"),
]


@pytest.mark.parametrize("name,fn,key,value", PROFILE_CASES, ids=[c[0] for c in PROFILE_CASES])
def test_bad_profile_contents(base, capsys, name, fn, key, value):
    tmp, prof = base
    _edit_profile(prof, fn)
    code, err = _sweep(capsys, write_scenario(tmp / "s.yaml", prof), tmp / "out", 2)
    _assert_one_line(code, err, "profile.yaml", key, value)


def test_string_batch_keys_are_read_as_integers(base, capsys):
    tmp, prof = base
    _edit_profile(prof, lambda m: m["stages"]["tail"]["latency_ms"].update({"hw": {"1": 2.0, "4": 4.0}}))
    from sim.profile import load_profile

    p = load_profile(prof)
    assert p.latency_ms("tail", "hw", 4) == 4.0 and p.latency_ms("tail", "hw", 2) == pytest.approx(2 + 2 / 3)


SAMPLE_CASES = [
    ("bytes not numeric", "split_bytes", "lots", "split_bytes (row 3)"),
    ("bytes nan", "split_bytes", "nan", "split_bytes (row 3)"),
    ("bytes fractional", "split_bytes", "10.5", "whole number"),
    ("bytes negative", "split_bytes", "-4", ">= 0"),
    ("correct not 0/1", "split_correct", "2", "<= 1"),
    ("label fractional", "label", "1.5", "whole number"),
]


@pytest.mark.parametrize("name,col,value,word", SAMPLE_CASES, ids=[c[0] for c in SAMPLE_CASES])
def test_bad_samples(base, capsys, name, col, value, word):
    tmp, prof = base
    lines = (prof / "samples.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[3].split(",")
    row[header.index(col)] = value
    lines[3] = ",".join(row)
    (prof / "samples.csv").write_text("\n".join(lines) + "\n")
    code, err = _sweep(capsys, write_scenario(tmp / "s.yaml", prof), tmp / "out", 2)
    _assert_one_line(code, err, "samples.csv", word, value)


def test_samples_empty_or_other_delimiter(base, capsys):
    tmp, prof = base
    text = (prof / "samples.csv").read_text()
    (prof / "samples.csv").write_text(text.replace(",", ";"))
    code, err = _sweep(capsys, write_scenario(tmp / "s.yaml", prof), tmp / "out", 1)
    _assert_one_line(code, err, "samples.csv", "comma-separated")
    (prof / "samples.csv").write_text("")
    code, err = _sweep(capsys, write_scenario(tmp / "s.yaml", prof), tmp / "out", 1)
    _assert_one_line(code, err, "samples.csv", "empty")


def test_out_is_a_file_or_under_one(base, capsys):
    tmp, prof = base
    sc = write_scenario(tmp / "s.yaml", prof)
    (tmp / "afile").write_text("x")
    code, err = _sweep(capsys, sc, tmp / "afile", 1)
    _assert_one_line(code, err, "--out", "afile", "is a file")
    code, err = _sweep(capsys, sc, tmp / "afile" / "deeper", 2)
    _assert_one_line(code, err, "--out", "lies under")


def test_csv_targets_that_cannot_be_written(base, capsys):
    # export and compare --csv: a folder, or a path under a file, once ended in tracebacks
    tmp, prof = base
    out = tmp / "out"
    assert main(["run", str(write_scenario(tmp / "s.yaml", prof)), "--out", str(out), "--no-plot"]) == 0
    (tmp / "afile").write_text("x")
    capsys.readouterr()
    for argv, why in ((["export", str(out), "--csv", str(out)], None),
                      (["export", str(out), "--csv", str(tmp / "afile" / "r.csv")], "File exists"),
                      (["compare", str(out), str(out), "--csv", str(tmp / "afile" / "c.csv")], "File exists")):
        code = main(argv)
        err = capsys.readouterr().err.strip()
        _assert_one_line(code, err)
        problem = f"cannot be written: {why}" if why else "is a folder; give a file"
        assert err == f"aecnn-sim: error: (command line): --csv: {problem} (got {argv[-1]!r})", err
    assert main(["export", str(out), "--csv", str(tmp / "new" / "deeper" / "r.csv")]) == 0  # folders made
    rows = (tmp / "new" / "deeper" / "r.csv").read_text().splitlines()
    assert rows[0].startswith('"scheme","seed"') and len(rows) == 2  # the header and the one task
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith(".")) == []  # no temporary left
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".locks"]  # the store's own


def test_disk_full_leaves_no_temporary_files(base, capsys, monkeypatch):
    import os

    tmp, prof = base
    sc = write_scenario(tmp / "s.yaml", prof)
    real_replace = os.replace

    def full(src, dst):
        if str(dst).endswith("summary.csv"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full)
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    _assert_one_line(code, err, "--out", "summary.csv", "No space left")
    leftovers = [p for p in (tmp / "out").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    monkeypatch.setattr(os, "replace", real_replace)
    assert _sweep(capsys, sc, tmp / "out", 1)[0] == 0  # the finished point was kept and is reused


PLOT_CASES = [
    ("missing", None),
    ("empty folder", {}),
    ("truncated summary", {"summary.csv": "scheme,seed,tas"}),
    ("corrupt records index", {"records/_partitions.json": "{not json"}),
    ("truncated records", {"records/*.parquet": "PAR1\x00\x01garbage"}),
    ("corrupt yaml", {"scenario.resolved.yaml": "tasks: [1, 2\n"}),
]


@pytest.mark.parametrize("name,damage", PLOT_CASES, ids=[c[0] for c in PLOT_CASES])
def test_plot_on_bad_results_folder(base, capsys, name, damage):
    tmp, prof = base
    out = tmp / "out"
    if damage is not None:
        assert main(["run", str(write_scenario(tmp / "s.yaml", prof)), "--out", str(out), "--no-plot"]) == 0
        capsys.readouterr()
        if damage == {}:
            for p in out.iterdir():
                if p.is_file():
                    p.unlink()
        for fname, text in damage.items():
            for p in (out.glob(fname) if "*" in fname else [out / fname]):
                p.unlink()  # a new file: the store's hard-linked copy stays whole
                p.write_text(text)
    code = main(["plot", str(out)])
    err = capsys.readouterr().err.strip()
    _assert_one_line(code, err, "out")


def test_run_where_no_task_arrives(base, capsys):
    tmp, prof = base
    trace = tmp / "late.csv"
    trace.write_text("time_s\n50\n")
    sc = write_scenario(tmp / "s.yaml", prof, tasks={"arrival": {"process": "trace", "trace": "late.csv"},
                                                     "count": None, "duration_s": 1.0, "deadline_ms": 100})
    code = main(["run", str(sc), "--out", str(tmp / "out")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "no task arrived" in captured.out
    assert (tmp / "out" / "figures" / "hit_rate.png").exists()


def test_fading_blocks_cost_work_not_memory(base):
    # 1e9 blocks of 0.1 us over 100 s: far beyond memory if blocks were stored (64 GB), within the
    # event budget as work; Gilbert-Elliott sojourns as short are stored, and refused on memory
    from sim.preflight import check_budget, estimate, memory_limit_bytes
    from sim.scenario import load_scenario

    tmp, prof = base
    tasks = {"arrival": {"process": "periodic", "period_ms": 100}, "count": 1000}
    sc = load_scenario(write_scenario(tmp / "r.yaml", prof, tasks=tasks,
                                      channel={"fading": {"model": "rayleigh", "coherence_ms": 1e-4}}))
    est = check_budget(sc)
    assert est.segments > 9e8 and est.kept == 0 and est.memory_bytes < 1e8
    ge = load_scenario(write_scenario(tmp / "g.yaml", prof, tasks=tasks, channel={"fading": {
        "model": "gilbert-elliott", "good_mean_ms": 2e-6, "bad_mean_ms": 2e-6}}))
    assert estimate(ge).memory_bytes > 4 * memory_limit_bytes()  # 3.2 TB
    with pytest.raises(ConfigError, match="good_mean_ms"):
        check_budget(ge)


def test_work_beyond_this_machine_is_refused_unless_forced(base, capsys):
    tmp, prof = base
    sc = write_scenario(tmp / "s.yaml", prof, tasks={"arrival": {"process": "poisson", "rate_per_s": 1e6},
                                                     "count": None, "duration_s": 1e6, "deadline_ms": 100})
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    _assert_one_line(code, err, "tasks.duration_s", "--force")
    # blocks are drawn where transfers span them: 50 uploads of 2.4 ms over blocks of 1e-11 s
    sc = write_scenario(tmp / "s.yaml", prof, channel={"fading": {"model": "rayleigh", "coherence_ms": 1e-8}},
                        tasks={"arrival": {"process": "periodic", "period_ms": 100}, "count": 50})
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    _assert_one_line(code, err, "channel.fading.coherence_ms", "1e-08")
    sc = write_scenario(tmp / "s.yaml", prof, channel={"fading": {"model": "gilbert-elliott", "good_mean_ms": 1e-6,
                                                                  "bad_mean_ms": 1e-6}},
                        tasks={"arrival": {"process": "periodic", "period_ms": 100}, "count": 50})
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    _assert_one_line(code, err, "channel.fading.good_mean_ms")
    # an edge failing and repaired every 2 ns over 5 s: 5e9 outages, each kept (once a hang)
    sc = write_scenario(tmp / "s.yaml", prof, faults={"edge": {"mtbf_s": 1e-9, "mttr_s": 1e-9}},
                        tasks={"arrival": {"process": "periodic", "period_ms": 100}, "count": 50})
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    _assert_one_line(code, err, "faults.edge.mtbf_s", "1e-09", "5.1e+09 edge outages")


def test_too_many_tasks_are_named_even_where_the_channel_weighs_more(base, capsys):
    # 1e12 tasks, one every 1 ms, each a 2.4 ms upload over blocks of 1 ns: the uplink's work
    # (2.4e9 s) outlasts the arrivals and its blocks outnumber the tasks' events, but the tasks
    # alone (2e13 events) are beyond this machine: their count must change, not the channel
    tmp, prof = base
    sc = write_scenario(tmp / "s.yaml", prof, channel={"fading": {"model": "rayleigh", "coherence_ms": 1e-6}},
                        tasks={"arrival": {"process": "periodic", "period_ms": 1}, "count": 10**12})
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    _assert_one_line(code, err, "tasks.count", "1000000000000", "1e+12 tasks", "--force")


# The simple profile's split task, worked by hand: 5 ms on the device, 1000 + 40 bytes (8,320 bits) on
# an uplink of 1 MHz at 10 dB and efficiency 1 (3.46 Mbit/s), 2 ms on the edge.
SLOW = [
    ({"devices": {"count": 1, "hardware": "hw", "speed": 1e-12}}, "devices.speed", "5e+09 s"),  # 5 ms / 1e-12
    ({"edge": {"hardware": "hw", "speed": 1e-13}}, "edge.speed", "2e+10 s"),  # 2 ms / 1e-13
    ({"channel": {"bandwidth_hz": 1e-7}}, "channel.bandwidth_hz", "2.41e+10 s"),  # 8,320 bits at 0.346 bit/s
    # 100 tasks at 1.44e-4 bit/s (a spectral efficiency of 1.4e-10: the SNR, not the band, is the problem)
    ({"channel": {"snr_db": -100}, "tasks": {"arrival": {"process": "periodic", "period_ms": 1000}, "count": 100,
                                             "deadline_ms": 100}}, "channel.snr_db", "5.77e+09 s"),
]


@pytest.mark.parametrize("sections,key,busy", SLOW, ids=[k for _, k, _ in SLOW])
def test_work_whose_simulated_time_outruns_the_clock_is_refused_naming_its_cause(base, capsys, sections, key, busy):
    tmp, prof = base
    sc = write_scenario(tmp / "s.yaml", prof, **sections)
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    _assert_one_line(code, err, key, busy, "4.5e+09 s", "--force")


def test_a_static_channel_below_every_cqi_level_runs_its_uploads_fail_at_once(base, capsys):
    # no rate at all is no work: the run ends (every upload an outage), it is not refused as endless
    tmp, prof = base
    sc = write_scenario(tmp / "s.yaml", prof, channel={"snr_db": -20, "fading": {"model": "none"},
                                                      "rate": {"model": "cqi"}},
                        schemes=["split", "local"], tasks={"arrival": {"process": "periodic", "period_ms": 100},
                                                           "count": 5, "deadline_ms": 100})
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    assert code == 0, err
    summary = pd.read_csv(tmp / "out" / "summary.csv")
    assert summary.set_index("scheme").loc["split", "hit_rate"] == 0.0
    assert summary.set_index("scheme").loc["local", "hit_rate"] == 1.0


def test_fading_over_a_long_upload_is_refused_naming_what_makes_it_long(base, capsys):
    # at -60 dB a task's 8,320 bits take 5,767 s at the mean SNR (a little more over Rayleigh gains);
    # ten of them span 5.8e10 blocks of 1 us: the SNR, not the coherence time, makes them many
    tmp, prof = base
    sc = write_scenario(tmp / "s.yaml", prof, channel={"snr_db": -60, "fading": {"model": "rayleigh",
                                                                                "coherence_ms": 1e-3}},
                        tasks={"arrival": {"process": "periodic", "period_ms": 1000}, "count": 10, "deadline_ms": 100})
    code, err = _sweep(capsys, sc, tmp / "out", 1)
    _assert_one_line(code, err, "channel.snr_db", "5.8e+10 channel segments", "--force")


def test_a_block_far_in_simulated_time_is_found_in_one_step():
    # beyond 2^52 blocks a product i * tc no longer moves by one block: the index once looped for ever
    code = "from sim.channel import BlockFading; print(BlockFading(0.0, 0.01, (0,)).block(1e300) > 0)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "True", p.stderr


def test_config_error_crosses_a_process_boundary_intact():
    e = ConfigError("f.yaml", "channel.snr_db", np.float64(3.0), "must be small")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is ConfigError and str(back) == str(e)
    assert (back.file, back.key, back.problem) == ("f.yaml", "channel.snr_db", "must be small")
    odd = ConfigError("f", "k", (x for x in []), "p")  # a value that does not pickle travels as text
    assert pickle.loads(pickle.dumps(odd)).key == "k"


@pytest.mark.parametrize("field", ["1", "0", "007", "+1", "-0", "1.0", "1e0", " 1", "1 ", "True", "true", "",
                                   "nan", "inf", "1.5", "0x1", "1_0", "2", "-1", "99999999999999999999"])
def test_whole_number_columns_read_at_once_as_they_are_read_as_text(tmp_path, field):
    """samples.csv is read by pandas' C parser where every field is an integer, as text otherwise:
    each field gives the same value, or the same one-line error, either way."""
    from sim import tables

    path = tmp_path / "samples.csv"
    path.write_text("index,label,x_correct\n0,3,1\n1,4," + field + "\n2,5,0\n")

    def read(whole):
        df = tables.read_csv(path, "samples.csv", ("label", "x_correct"), whole=whole)
        try:
            return tables.column(path, df, "x_correct", integer=True, lo=0, hi=1).tolist()
        except ConfigError as e:
            return str(e)

    assert read(True) == read(False)
    if field in ("1", "0", "007", "+1", "-0", "2", "-1"):  # all integers: no text pass at all
        assert tables.read_csv(path, "samples.csv", ("label",), whole=True)["x_correct"].dtype == np.int64
