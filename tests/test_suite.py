"""Suite files: parsing, sweeps, seeds, and errors that name the file before anything runs."""
import pytest

from bench.run.suite import SuiteError, load_suite


def test_parse_the_toy_suite(plugin_dir):
    s = load_suite(plugin_dir / "toy.toml")
    assert s.name == "toy"
    assert s.description == "toy suite for the harness tests"
    assert s.seeds == [0, 1]
    assert [d["name"] for d in s.datasets] == ["toy-reg", "toy-cls"]
    assert [m["variant"] for m in s.methods] == ["toy-mean*", "toy-majority"]
    assert s.table.title == "toy table" and s.table.columns == [] and s.table.metrics == []
    assert s.timeout is None
    assert load_suite(plugin_dir / "toy.toml", name="renamed").name == "renamed"


def test_expand_datasets_x_variants_x_seeds(plugin_dir, toy_registry):
    specs = load_suite(plugin_dir / "toy.toml").expand(toy_registry)
    got = [(s.dataset, s.split, s.method, s.seed) for s in specs]
    assert got == [
        ("toy-reg", "fixed", "toy-mean", 0), ("toy-reg", "fixed", "toy-mean", 1),
        ("toy-reg", "fixed", "toy-mean-shifted", 0), ("toy-reg", "fixed", "toy-mean-shifted", 1),
        ("toy-reg", "fixed", "toy-majority", 0), ("toy-reg", "fixed", "toy-majority", 1),
        ("toy-cls", "default", "toy-mean", 0), ("toy-cls", "default", "toy-mean", 1),
        ("toy-cls", "default", "toy-mean-shifted", 0), ("toy-cls", "default", "toy-mean-shifted", 1),
        ("toy-cls", "default", "toy-majority", 0), ("toy-cls", "default", "toy-majority", 1),
    ]
    # resolved parameters, the label of a single-variant entry, the suite's name
    first = specs[0]
    assert dict(first.params) == {"shift": 0.0, "scale": 1.0, "layers": (8,)}
    assert dict(specs[2].params)["shift"] == 10.0
    assert specs[4].label == "majority vote" and specs[0].label == "toy-mean"
    assert {s.suite for s in specs} == {"toy"}
    # spec ids: distinct per run, equal for equal runs
    assert len({s.spec_id for s in specs}) == len(specs)
    again = load_suite(plugin_dir / "toy.toml").expand(toy_registry)
    assert [s.spec_id for s in again] == [s.spec_id for s in specs]


def test_a_list_is_a_sweep_and_sweeps_multiply(write_suite, toy_registry):
    path = write_suite('''
        seeds = [7]
        [[datasets]]
        name = "toy-reg"
        [[methods]]
        variant = "toy-mean"
        params = { shift = [1.0, 2.0, 3.0], scale = [0.5, 2.0], layers = [[16, 8]] }
        ''')
    specs = load_suite(path).expand(toy_registry)
    combos = [(dict(s.params)["shift"], dict(s.params)["scale"]) for s in specs]
    assert combos == [(1.0, 0.5), (1.0, 2.0), (2.0, 0.5), (2.0, 2.0), (3.0, 0.5), (3.0, 2.0)]
    assert all(dict(s.params)["layers"] == [16, 8] for s in specs)  # wrapped list = one value
    assert all(s.seed == 7 for s in specs)
    assert dict(specs[0].overrides) == {"shift": 1.0, "scale": 0.5, "layers": [16, 8]}
    assert len({s.spec_id for s in specs}) == 6


def test_default_seed_and_seed_override(write_suite, toy_registry):
    path = write_suite('''
        [[datasets]]
        name = "toy-reg"
        [[methods]]
        variant = "toy-mean"
        ''')
    suite = load_suite(path)
    assert suite.seeds == [0]
    assert [s.seed for s in suite.expand(toy_registry, seeds=[3, 4, 5])] == [3, 4, 5]
    assert [s.split for s in suite.expand(toy_registry)] == ["fixed"]  # first split = default


def test_filters_and_per_method_datasets(write_suite, toy_registry):
    path = write_suite('''
        [[datasets]]
        name = "toy-reg"
        [[datasets]]
        name = "toy-cls"
        [[methods]]
        variant = "toy-mean*"
        datasets = ["toy-reg"]
        [[methods]]
        variant = "toy-majority"
        ''')
    suite = load_suite(path)
    assert [(s.dataset, s.method) for s in suite.expand(toy_registry)] == [
        ("toy-reg", "toy-mean"), ("toy-reg", "toy-mean-shifted"), ("toy-reg", "toy-majority"),
        ("toy-cls", "toy-majority")]
    assert [(s.dataset, s.method) for s in suite.expand(toy_registry, methods=["*shifted"])] == [
        ("toy-reg", "toy-mean-shifted")]
    assert [(s.dataset, s.method) for s in suite.expand(toy_registry, datasets=["*cls"])] == [
        ("toy-cls", "toy-majority")]


def test_unknown_top_level_key_names_the_file(write_suite):
    path = write_suite('''
        seed = [0]
        [[datasets]]
        name = "toy-reg"
        [[methods]]
        variant = "toy-mean"
        ''')
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert str(path) in str(err.value) and "unknown key(s) seed" in str(err.value)
    assert "the top level" in str(err.value)


@pytest.mark.parametrize("where, text", [
    ("[[methods]] #2", '[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = "toy-mean"\n'
                       '[[methods]]\nvariant = "toy-majority"\nparam = { a = 1 }\n'),
    ("[[datasets]] #1", '[[datasets]]\nname = "toy-reg"\nsplits = "fixed"\n[[methods]]\nvariant = "toy-mean"\n'),
    ("[table]", '[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = "toy-mean"\n[table]\nrow = ["x"]\n'),
])
def test_unknown_nested_keys_name_the_file_and_the_place(write_suite, where, text):
    path = write_suite(text)
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_invalid_toml_names_the_file_and_the_line(write_suite):
    path = write_suite('[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = toy-mean\n')
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    msg = str(err.value)
    assert str(path) in msg and "not valid TOML" in msg and "line 4" in msg


@pytest.mark.parametrize("text, needle", [
    ('[[methods]]\nvariant = "toy-mean"\n', "at least one [[datasets]]"),
    ('[[datasets]]\nname = "toy-reg"\n', "at least one [[datasets]]"),
    ('[[datasets]]\nsplit = "fixed"\n[[methods]]\nvariant = "toy-mean"\n', "#1 has no name"),
    ('[[datasets]]\nname = "toy-reg"\n[[methods]]\nlabel = "x"\n', "#1 has no variant"),
    ('seeds = 3\n[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = "toy-mean"\n', "seeds must be a list"),
    ('seeds = [0, "1"]\n[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = "toy-mean"\n', "seeds must be a list"),
])
def test_structural_errors(write_suite, text, needle):
    path = write_suite(text)
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_unknown_method_in_a_suite_suggests_close_matches(write_suite, toy_registry):
    path = write_suite('[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = "toy-maen"\n')
    with pytest.raises(KeyError) as err:
        load_suite(path).expand(toy_registry)
    assert "unknown method 'toy-maen'" in err.value.args[0] and "'toy-mean'" in err.value.args[0]


def test_glob_that_matches_nothing_is_an_error(write_suite, toy_registry):
    path = write_suite('[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = "nothing-*"\n')
    with pytest.raises(KeyError, match="unknown method 'nothing-\\*'"):
        load_suite(path).expand(toy_registry)


def test_unknown_dataset_and_split(write_suite, toy_registry):
    path = write_suite('[[datasets]]\nname = "toy-rgg"\n[[methods]]\nvariant = "toy-mean"\n')
    with pytest.raises(KeyError, match="did you mean 'toy-reg'"):
        load_suite(path).expand(toy_registry)
    path = write_suite('[[datasets]]\nname = "toy-reg"\nsplit = "fixd"\n[[methods]]\nvariant = "toy-mean"\n')
    with pytest.raises(KeyError, match="has no split 'fixd' \\(did you mean 'fixed'\\?\\)"):
        load_suite(path).expand(toy_registry)


def test_unknown_method_parameter_fails_at_expansion(write_suite, toy_registry):
    path = write_suite('''
        [[datasets]]
        name = "toy-reg"
        [[methods]]
        variant = "toy-mean"
        params = { shfit = 1.0 }
        ''')
    with pytest.raises(SuiteError) as err:
        load_suite(path).expand(toy_registry)
    assert "unknown parameter 'shfit' (did you mean 'shift'?)" in str(err.value)
    assert str(err.value).startswith(f'{path}: method "toy-mean": ')  # the file and entry to fix


def test_unknown_method_parameter_fails_before_anything_runs(cli, write_suite):
    invoke, results = cli
    path = write_suite('''
        [[datasets]]
        name = "toy-reg"
        [[methods]]
        variant = "toy-mean"
        [[methods]]
        variant = "toy-majority"
        params = { depht = 3 }
        ''')
    res = invoke("run", "--suite", str(path))
    assert res.exit_code == 2
    assert "unknown parameter 'depht'" in res.output
    assert not results.exists()


def test_unknown_method_in_a_suite_via_the_cli(cli, write_suite):
    invoke, results = cli
    path = write_suite('[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = "toy-maen"\n')
    res = invoke("run", "--suite", str(path))
    assert res.exit_code == 2 and "did you mean 'toy-mean'" in res.output
    assert not results.exists()


def test_broken_suite_file_via_the_cli(cli, write_suite):
    invoke, _ = cli
    path = write_suite('[[datasets]]\nname = "toy-reg"\n[[methods]\n')
    res = invoke("run", "--suite", str(path))
    assert res.exit_code == 2 and str(path) in res.output and "line 3" in res.output


def test_limits_from_the_suite_reach_each_run(write_suite, toy_registry):
    path = write_suite('timeout = 30\nmemory_limit = "1G"\n[[datasets]]\nname = "toy-reg"\n'
                       '[[methods]]\nvariant = "toy-mean"\n'
                       '[[methods]]\nvariant = "toy-mean-shifted"\ntimeout = 5\nmemory_limit = 256\n')
    specs = {s.method: s for s in load_suite(path).expand(toy_registry)}
    assert (specs["toy-mean"].timeout, specs["toy-mean"].memory_limit_mb) == (30.0, 1024.0)
    assert (specs["toy-mean-shifted"].timeout, specs["toy-mean-shifted"].memory_limit_mb) == (5.0, 256.0)
    # limits are not part of what makes two runs the same experiment
    assert "timeout" not in specs["toy-mean"].identity


def test_unknown_dataset_parameter_names_the_suite_file_and_entry(write_suite, toy_registry):
    path = write_suite('''
        [[datasets]]
        name = "toy-reg"
        params = { nrows = 5 }
        [[methods]]
        variant = "toy-mean"
        ''')
    with pytest.raises(SuiteError) as err:
        load_suite(path).expand(toy_registry)
    assert str(err.value).startswith(f'{path}: [[datasets]] "toy-reg": dataset toy-reg: unknown parameter')


REFERENCE_SUITE = """
seeds = [0]
[[datasets]]
name = "toy-reg"
split = "fixed"
[[datasets]]
name = "toy-reg"
split = "other"
[[methods]]
variant = "toy-mean*"
[[methods]]
variant = "toy-majority"
label = "majority vote"
[table.reference]
"toy-mean" = { MAPE = 0.5 }
"""


def test_reference_plain_and_per_section_forms(write_suite):
    path = write_suite(REFERENCE_SUITE + """
[table.reference."toy-reg/other"]
"toy-mean" = { MAPE = 0.25, "MAPE (with EE)" = 1 }
"majority vote" = { RMSE = 3.5 }
""")
    table = load_suite(path).table
    assert table.reference == {"toy-mean": {"MAPE": 0.5}}
    assert table.section_reference == {"toy-reg/other": {"toy-mean": {"MAPE": 0.25, "MAPE (with EE)": 1.0},
                                                         "majority vote": {"RMSE": 3.5}}}
    assert table.reference_for("toy-reg", "other") == table.section_reference["toy-reg/other"]
    assert table.reference_for("toy-reg", "fixed") == {"toy-mean": {"MAPE": 0.5}}  # falls back to the plain form
    assert table.reference_for("toy-cls", "default") == {"toy-mean": {"MAPE": 0.5}}


@pytest.mark.parametrize("text, needle", [
    ('[table.reference."toy-rg/other"]\n"toy-mean" = { MAPE = 0.1 }',
     r'\[table.reference."toy-rg/other"\]: no \[\[datasets\]\] entry is named "toy-rg" \(the suite\'s: toy-reg\)'),
    ('[table.reference."toy-reg/othr"]\n"toy-mean" = { MAPE = 0.1 }',
     r'"toy-reg" has no split "othr" in this suite \(its: fixed, other\)'),
    ('[table.reference."toy-reg"]\n"toy-mean" = { MAPE = 0.1 }', r'keyed "dataset/split"'),
    ('[table.reference."toy-reg/other"]\n"toy-men" = { MAPE = 0.1 }',
     r'\[table.reference."toy-reg/other"\]: row "toy-men" is not a row of this suite.*majority vote, toy-mean\*'),
    ('[table.reference."toy-reg/other"]\n"toy-mean" = { MAPE = "0.1" }', r'column "MAPE" = \'0.1\' should be a number'),
    ('[table.reference."toy-reg/other"]\n"toy-mean" = { MAPE = true }', r'column "MAPE" = True should be a number'),
    ('[table.reference."toy-reg/other"]\n"toy-mean" = { MAPE = 0.1 }\nx = 3',
     r'\[table.reference."toy-reg/other"\] "x": give \{ column = value \}'),
])
def test_reference_errors_name_the_suite_file_and_the_entry(write_suite, text, needle):
    path = write_suite(REFERENCE_SUITE + text)
    with pytest.raises(SuiteError, match=needle) as err:
        load_suite(path)
    assert str(err.value).startswith(f"{path}: ")


def test_reference_plain_row_errors(write_suite):
    path = write_suite(REFERENCE_SUITE.replace('"toy-mean" = { MAPE = 0.5 }', '"toy-meen" = { MAPE = 0.5 }'))
    with pytest.raises(SuiteError, match=r'\[table.reference\]: row "toy-meen" is not a row of this suite '
                                         r'\(did you mean "toy-mean\*"\?'):
        load_suite(path)
    # a paper's row that the suite does not run (a label unlike every row) is kept as a reference-only row
    path = write_suite(REFERENCE_SUITE.replace('"toy-mean" = { MAPE = 0.5 }', '"Paper model (not run here)" = { MAPE = 0.5 }'))
    assert load_suite(path).table.reference == {"Paper model (not run here)": {"MAPE": 0.5}}
    path = write_suite(REFERENCE_SUITE.replace('"toy-mean" = { MAPE = 0.5 }', '"toy-mean" = 0.5'))
    with pytest.raises(SuiteError, match=r'\[table.reference\] "toy-mean": give \{ column = value \}'):
        load_suite(path)
    path = write_suite(REFERENCE_SUITE.replace('[table.reference]\n"toy-mean" = { MAPE = 0.5 }',
                                               '[table]\nreference = 3'))
    with pytest.raises(SuiteError, match=r"\[table.reference\] must be a table"):
        load_suite(path)
