"""Hypothesis fuzz of the command line and config parsing, in-process: every generated input ends with exit 0, or
exit 2 and one line on stderr, never a traceback. Inputs are kept on the fast validation paths (an invalid --device
or --backend stops a valid config before any work), so ≥ 500 examples run in seconds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from priorlab.cli import main

KEYS = ["hidden", "steps", "target", "activation", "noise", "seed", "preset", "n_samples", "x_min", "x_max",
        "frames", "scale", "nokey", "", "=", "hidden.0"]
ATOMS = ["1", "-1", "0", "true", "null", "~", "[1,2]", "{a: 1}", "[", "]]", "&a [*a]", "*a", "1e309", "nan",
         "inf", "'x'", '"', "sin(x)", "x**x**x", "2**99999", "!!python/object:os.system", "0x10", "1_000",
         "é", "\x00", "a,b,,c", "blog", "full", "quick", "relu", "-" * 300 + "x"]

value = st.one_of(st.sampled_from(ATOMS), st.text(max_size=40),
                  st.lists(st.sampled_from(ATOMS), min_size=1, max_size=4).map(",".join))
pair = st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), value)
junk = st.one_of(st.text(max_size=20), st.sampled_from(["--limit", "-1", "--format", "xml", "--help", "-h", "--",
                                                        "--seed", "-5", "--out", "--config", "/nonexistent"]))


@st.composite
def argv(draw):
    cmd = draw(st.sampled_from(["run", "sweep", "show", "runs", "sweeps", "list", "nosuch", "doctor", "report"]))
    if cmd == "run":
        exp = draw(st.sampled_from(["fit1d", "fit1d", "nosuch", "", "compare"]))
        args = [cmd, exp] + [x for p in draw(st.lists(pair, max_size=4)) for x in ("--set", p)]
        if draw(st.booleans()):
            args += ["--seed", draw(st.sampled_from(["0", "-3", "x", "99999999999999999999"]))]
        return args + ["--quiet", "--device", "nodevice"]  # a valid config stops at the device check
    if cmd == "sweep":
        args = [cmd, draw(st.sampled_from(["fit1d", "nosuch"]))]
        args += [x for p in draw(st.lists(pair, max_size=3)) for x in ("--grid", p)]
        args += [x for p in draw(st.lists(pair, max_size=2)) for x in ("--set", p)]
        if draw(st.booleans()):
            args += ["--seeds", draw(st.sampled_from(["0-9", "9-0", "0-99999999999", "a", "", "-1", "0,,1", "0-"]))]
        if draw(st.booleans()):
            args += ["--max-trials", draw(st.sampled_from(["0", "-1", "3", "x"]))]
        return args + ["--quiet", "--backend", "nobackend"]  # stops before any trial runs
    if cmd == "show":
        return [cmd, draw(st.one_of(st.text(max_size=30), st.sampled_from(["sw-x", "/", ".", "..", "x" * 300])))] \
            + draw(st.lists(junk, max_size=2))
    if cmd == "runs":
        return [cmd] + draw(st.lists(st.one_of(junk, st.sampled_from(["--limit", "0", "5", "fit1d"])), max_size=3))
    return [cmd] + draw(st.lists(junk, max_size=2))


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "runs"


@settings(max_examples=600, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(args=argv())
def test_fuzz_cli_never_tracebacks(args, fuzz_home, monkeypatch_module, capsys):
    code = main(args)
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out
    if code not in (0, 1):
        assert code == 2, (args, code, cap.err)
        assert len(cap.err.strip().splitlines()) == 1, (args, cap.err[:500])
        assert len(cap.err) < 2000
    assert not list(fuzz_home.glob("*/.partial-*"))


@pytest.fixture(scope="module")
def monkeypatch_module(fuzz_home):
    mp = pytest.MonkeyPatch()
    mp.setenv("PRIORLAB_HOME", str(fuzz_home))
    yield mp
    mp.undo()
