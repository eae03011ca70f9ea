"""`bench check NAME` runs the contract checks with readable PASS/FAIL lines and an exit status."""


def test_check_passes_a_good_method(cli):
    invoke, _ = cli
    res = invoke("check", "toy-mean", "--kind", "regression")
    assert res.exit_code == 0, res.output
    assert "PASS toy-mean [regression] determinism" in res.output
    assert "toy-mean: all checks passed" in res.output


def test_check_fails_a_method_returning_nan(cli):
    invoke, _ = cli
    res = invoke("check", "toy-nan")
    assert res.exit_code == 1
    assert "FAIL toy-nan [regression] finite" in res.output


def test_check_unknown_method_suggests_close_names(cli):
    invoke, _ = cli
    res = invoke("check", "toy-maen")
    assert res.exit_code == 2
    assert "did you mean" in res.output and "toy-mean" in res.output
