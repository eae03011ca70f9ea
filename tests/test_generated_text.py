"""The page's "Generated text" section: what a language model's records hold, quoted safely."""
from types import SimpleNamespace as NS

from bench.report.generated import samples_section


def run(label, split, samples, ppl, status="ok"):
    spec = NS(label=label, dataset="mr", split=split, seed=0)
    return spec, NS(status=status, info={"lm": {"samples": samples, "valid_perplexity": ppl}}), False


def test_samples_of_the_first_record_and_the_mean_perplexity_are_shown():
    lines = samples_section([run("ULMFiT", "fold1", ["this movie is a *gem* <b>"], 100.0),
                             run("ULMFiT", "fold2", ["other"], 110.0),
                             run("NB-SVM", "fold1", None, None)])
    text = "\n".join(lines)
    assert lines[0] == "## Generated text"
    assert "**ULMFiT** (mr/fold1, seed 0; LM valid perplexity 105.0 ± 7.1 over 2 runs):" in text
    assert r"> this movie is a \*gem\* \<b\>" in text  # markup and HTML are shown as written
    assert "other" not in text and "NB-SVM" not in text


def test_no_section_without_samples_or_from_failed_runs():
    assert samples_section([run("ULMFiT", "fold1", ["x"], 90.0, status="failed")]) == []
    assert samples_section([(NS(label="knn"), None, False)]) == []
