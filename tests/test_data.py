"""Reading a CSV file: the header within bounds, rows checked, text never silently a factor."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mixfit.errors import InputError
from mixfit.model import data
from mixfit.model.data import listed, read_header, read_table


def csv(tmp_path: Path, text: str | bytes, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def with_x(values: list[str]) -> str:
    rows = "".join(f"{i},{v},g{i % 2}\n" for i, v in enumerate(values))
    return "y,x,g\n" + rows


@pytest.mark.parametrize(
    "values, phrase",
    [
        (["1.5", "2", "abc", "4", "5"], "'abc' (row 3): fix them, or leave missing values empty"),
        (['"1,052.0"', '"2,000.5"', "3.5", "4"], "without thousands separators"),
        (['"1,5"', '"2,5"', '"3,25"', "4"], "write decimals with a point"),
        (["245.3 ms", "250 ms", "251 ms", "260"], "without units"),
        (["1", "2", "3", "?"], "'?' (row 4)"),
    ],
)
def test_a_mostly_numeric_predictor_with_text_is_refused(tmp_path, values, phrase):
    path = csv(tmp_path, with_x(values))
    with pytest.raises(InputError, match="looks numeric") as caught:
        read_table(path, ["y", "x", "g"], [], predictors=["x"])
    assert phrase in str(caught.value) and "--factor x" in str(caught.value)


def test_factor_flag_or_grouping_role_lets_such_a_column_be_categorical(tmp_path):
    path = csv(tmp_path, with_x(["1", "2", "3", "3b"]))
    table = read_table(path, ["y", "x", "g"], ["x"], predictors=["x"])
    assert list(table.frame["x"].cat.categories) == ["1", "2", "3", "3b"]
    table = read_table(path, ["y", "x", "g"], [], predictors=[])  # a grouping column, say
    assert isinstance(table.frame["x"].dtype, pd.CategoricalDtype)


def test_a_text_predictor_stays_categorical(tmp_path):
    path = csv(tmp_path, with_x(["red", "blue", "red", "green", "7"]))
    table = read_table(path, ["y", "x", "g"], [], predictors=["x"])
    assert list(table.frame["x"].cat.categories) == ["7", "blue", "green", "red"]


def test_missing_value_markers_are_missing_not_text(tmp_path):
    path = csv(tmp_path, with_x(["1", "NA", "", "n/a", "5"]))
    table = read_table(path, ["y", "x", "g"], [], predictors=["x"])
    assert table.rows_dropped == 3 and table.frame["x"].tolist() == [1.0, 5.0]


def test_header_longer_than_the_limit_is_refused_without_reading_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "HEADER_BYTES", 1000)
    path = csv(tmp_path, "a" * 5000)
    with pytest.raises(InputError, match="first line is longer than"):
        read_header(path)


def test_a_line_longer_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "LINE_BYTES", 1000)
    monkeypatch.setattr(data, "CHUNK_BYTES", 256)
    path = csv(tmp_path, "y,x\n1,2\n" + "3," + "4" * 5000 + "\n")
    with pytest.raises(InputError, match="line 3 is longer than"):
        read_table(path, ["y", "x"], [])


def test_too_many_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_COLUMNS", 10)
    path = csv(tmp_path, ",".join(f"c{i}" for i in range(11)) + "\n")
    with pytest.raises(InputError, match="has 11 columns; mixfit reads at most 10"):
        read_header(path)


def test_cr_only_line_ends_are_named(tmp_path):
    with pytest.raises(InputError, match="CR alone"):
        read_header(csv(tmp_path, "y,x\r1,2\r3,4\r"))
    assert read_header(csv(tmp_path, "y,x\r\n1,2\r\n", "crlf.csv")) == ["y", "x"]


def test_header_with_a_bom_and_quotes(tmp_path):
    assert read_header(csv(tmp_path, '\ufeff"a,b",c\n1,2\n')) == ["a,b", "c"]


def test_messages_list_a_few_columns_of_many(tmp_path):
    header = [f"c{i}" for i in range(20_000)]
    path = csv(tmp_path, ",".join(header) + "\n" + ",".join("1" * 20_000) + "\n")
    with pytest.raises(InputError) as caught:
        read_table(path, ["zz"], [])
    assert "and 19,992 more" in str(caught.value) and len(str(caught.value)) < 300
    assert listed(["a", "b"]) == "a, b"
