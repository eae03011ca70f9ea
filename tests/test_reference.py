"""docs/reference.md is what `bench reference` prints now (so it cannot drift from the code), and
the generator reads attributes' comments, signatures and docstrings as documented."""
from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from bench.cli.app import main
from bench.plugins.reference import describe_class, reference

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_reference_is_current():
    out = CliRunner().invoke(main, ["reference"])
    assert out.exit_code == 0, out.output
    assert (ROOT / "docs" / "reference.md").read_text() == out.output, \
        "docs/reference.md is stale: bench reference --out docs/reference.md"
    for words in ("### `Part`", "| `categorical` | `dict[str, int]` | column -> cardinality |",
                  "| `target_transform` | `str | None` | hint: \"log\"", "### `bench.testing.parametrize_with_checks",
                  "- `fit_model(self, M: Any, y: np.ndarray, train: Part"):
        assert words in out.output, words


class Card:
    """A card for the generator."""

    size: int = 3  # how big
    # the colour,
    # in words
    colour = "red"
    _hidden = 1

    def __init__(self) -> None:
        self.weight = 2.0  # kilograms

    def grow(self, by: "int" = 1) -> "Card":
        """Make it bigger.

        Not this paragraph."""
        return self


def test_attributes_comments_signatures_and_first_paragraphs():
    text = describe_class(Card)
    assert "| `size` | `int` | how big |" in text
    assert "| `colour` | `'red'` | the colour, in words |" in text
    assert "| `weight` | | kilograms |" in text
    assert "_hidden" not in text
    assert "- `grow(self, by: int = 1) -> Card`: Make it bigger." in text and "Not this" not in text
    doc = reference([("Cards", "Some text.", [("Card", Card)])])
    assert doc.startswith("# bench reference") and "## Cards\n\nSome text.\n\n### `Card`" in doc
    assert textwrap.dedent(Card.__doc__) in doc
