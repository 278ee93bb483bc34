"""The structure checker itself, so a real-model test cannot pass on a broken check."""

from __future__ import annotations

from tests.llm.structure import post_shape

GOOD = """# Brewing Better Tea

Tea tastes better when water and time are right.

## Water temperature

Green tea wants 80 °C.

```bash
# not a heading: a shell comment
echo boil
```

## Steeping time

Three minutes for black tea.

## Storage

### Airtight tins

Keep leaves dry.

## Conclusion

Measure, then taste.
"""


def test_a_well_formed_post_has_no_problems() -> None:
    shape = post_shape(GOOD)
    assert shape.title == "Brewing Better Tea"
    assert shape.sections == ["Water temperature", "Steeping time", "Storage", "Conclusion"]
    assert shape.problems() == []


def test_each_missing_part_is_reported() -> None:
    assert "no `# ` title" in post_shape(GOOD.split("\n", 1)[1]).problems()
    two = GOOD.split("## Storage")[0] + "## Conclusion\n\nDone.\n"
    assert post_shape(two).problems() == ["2 `## ` sections before the conclusion, want 3+"]
    no_end = GOOD.replace("## Conclusion", "## Extras")
    assert any("not a conclusion" in p for p in post_shape(no_end).problems())
    empty = GOOD.replace("Three minutes for black tea.\n", "")
    assert post_shape(empty).problems() == ["empty sections: ['Steeping time']"]
    assert "text before the title" in post_shape("Sure! Here it is.\n\n" + GOOD).problems()
