"""parse_csv: good files become Datasets; every kind of bad file gets a clear DataError."""

from __future__ import annotations

import numpy as np
import pytest

from app.data.csv_import import MAX_CLASSES, DataError, parse_csv

GOOD = "x1,x2,label\n1.5,2,cat\n-3,4e-1,dog\n0,1,cat\n"


def error(text: str | bytes, **kwargs: object) -> str:
    with pytest.raises(DataError) as err:
        parse_csv(text, **kwargs)  # type: ignore[arg-type]
    return str(err.value)


# ---- good files ---------------------------------------------------------------


def test_string_labels_become_classes() -> None:
    ds = parse_csv(GOOD)
    ds.validate()
    assert ds.feature_names == ("x1", "x2")
    assert ds.X.tolist() == [[1.5, 2.0], [-3.0, 0.4], [0.0, 1.0]]
    assert ds.task == "binary" and ds.n_classes == 2
    assert ds.class_names == ("cat", "dog") and ds.y.tolist() == [0, 1, 0]
    assert ds.y.dtype == np.int64 and ds.name == "csv"


def test_few_integer_labels_are_classes_in_numeric_order() -> None:
    ds = parse_csv("a,b,y\n1,2,10\n3,4,2\n5,6,2.0\n7,8,-1\n")
    assert ds.task == "multiclass" and ds.class_names == ("-1", "2", "10")
    assert ds.y.tolist() == [2, 1, 1, 0]


def test_float_labels_are_regression() -> None:
    ds = parse_csv("a,target\n1,0.5\n2,-1.25\n3,7\n")
    assert ds.task == "regression" and ds.n_classes == 0 and ds.class_names == ()
    assert ds.y.dtype == np.float64 and ds.y.tolist() == [0.5, -1.25, 7.0]


def test_many_distinct_integers_are_regression() -> None:
    rows = "\n".join(f"{i},{i * 3}" for i in range(MAX_CLASSES + 1))
    ds = parse_csv("age,score\n" + rows)
    assert ds.task == "regression"


def test_task_override() -> None:
    assert parse_csv("a,y\n1,0\n2,1\n3,1\n", task="regression").task == "regression"
    ds = parse_csv("a,y\n1,0.5\n2,1.5\n3,0.5\n", task="classification")
    assert ds.task == "binary" and ds.class_names == ("0.5", "1.5")


def test_label_column_by_name_and_index() -> None:
    text = "x1,species,x2\n1,a,2\n3,b,4\n"
    for label in ("species", 1, -2, " species "):
        ds = parse_csv(text, label_column=label)
        assert ds.feature_names == ("x1", "x2") and ds.X.tolist() == [[1, 2], [3, 4]]
        assert ds.class_names == ("a", "b") and ds.meta["label_column"] == "species"


def test_formats_semicolon_tab_bom_crlf_quotes_bytes_blank_lines() -> None:
    want = parse_csv(GOOD)
    variants = [
        GOOD.replace(",", ";"),
        GOOD.replace(",", "\t"),
        "\ufeff" + GOOD,
        GOOD.replace("\n", "\r\n"),
        '"x1", "x2" ,"label"\n" 1.5",2,"cat"\n-3,4e-1,dog\n0,1,cat\n',
        GOOD.encode("utf-8"),
        "\ufeff".encode("utf-8") + GOOD.encode("utf-8"),
        "\n\n" + GOOD + "\n\n,,\n",
    ]
    for text in variants:
        ds = parse_csv(text)
        assert ds.X.tolist() == want.X.tolist() and ds.y.tolist() == want.y.tolist(), repr(text)
        assert ds.feature_names == want.feature_names and ds.class_names == want.class_names


def test_limits_are_inclusive() -> None:
    text = "a,b,y\n" + "1,2,0\n3,4,1\n" * 5
    assert parse_csv(text, max_rows=10, max_cols=3, max_bytes=len(text)).X.shape == (10, 2)


# ---- bad files: one test per kind ---------------------------------------------


def test_data_error_is_a_value_error() -> None:
    assert issubclass(DataError, ValueError)


@pytest.mark.parametrize("text", ["", "   \n\n  \r\n", b"", "\ufeff"])
def test_empty(text: str | bytes) -> None:
    assert "the file is empty" in error(text)


def test_no_header() -> None:
    msg = error("1.5,2,0\n3,4,1\n")
    assert msg.startswith("no header: the first row (1.5, 2, 0) looks like data")
    assert "must name the columns" in msg
    assert "no header" in error("1.5,2,cat\n3,4,dog\n")  # text label, numeric features


def test_header_only() -> None:
    assert "0 data row(s) after the header; at least 2 are needed" in error("x1,x2,y\n")


def test_non_numeric_feature_cell() -> None:
    msg = error("x1,x2,y\n1,2,a\n3,abc,b\n")
    assert "non-numeric value 'abc' at line 3, column 'x2'" in msg
    assert "feature columns must hold numbers" in msg


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-Infinity"])
def test_nan_or_inf_feature(cell: str) -> None:
    msg = error(f"x1,x2,y\n1,2,a\n{cell},3,b\n")
    assert f"value {cell!r} at line 3, column 'x1' is not a finite number" in msg
    assert "NaN and infinity are not allowed" in msg


def test_empty_feature_cell() -> None:
    assert "empty cell at line 4, column 'x2'" in error("x1,x2,y\n1,2,a\n3,4,b\n5,,a\n")


def test_empty_label() -> None:
    assert "empty label at line 3, column 'y'" in error("x1,y\n1,a\n2,\n")


def test_non_finite_label() -> None:
    assert "label 'nan' at line 3 is not a finite number" in error("x1,y\n1,0.5\n2,nan\n")


def test_ragged_rows() -> None:
    assert "line 3 has 2 cells but the header has 3 columns" in error("x1,x2,y\n1,2,a\n3,b\n")
    assert "line 2 has 4 cells" in error("x1,x2,y\n1,2,a,9\n3,4,b\n")


def test_line_numbers_count_blank_lines() -> None:
    assert "line 5" in error("x1,y\n\n1,a\n\noops,b\n")


def test_one_class_only() -> None:
    msg = error("x1,y\n1,cat\n2,cat\n3,cat\n")
    assert "label column 'y' has only one class ('cat'); classification needs at least 2" in msg


def test_too_many_rows() -> None:
    msg = error("x,y\n" + "1,a\n2,b\n" * 3, max_rows=5)
    assert "too many rows: more than 5 data rows; the limit is 5" in msg


def test_too_many_columns() -> None:
    header = ",".join(f"f{i}" for i in range(5))
    msg = error(header + "\n" + "1,2,3,4,5\n" * 2, max_cols=4)
    assert "too many columns: 5; the limit is 4 (3 features and 1 label)" in msg


def test_too_large() -> None:
    msg = error(GOOD, max_bytes=10)
    assert f"file too large: {len(GOOD)} bytes; the limit is 10 bytes" in msg
    assert "file too large: 1,001 bytes; the limit is 1,000 bytes" in error(b"x" * 1001, max_bytes=1000)
    # Multi-byte characters count as bytes, not characters.
    assert "file too large: 9 bytes" in error("x,y\né,1\n", max_bytes=8)


def test_unknown_label_column() -> None:
    msg = error(GOOD, label_column="species")
    assert msg == "unknown label column 'species'; columns are: x1, x2, label"
    assert "label column index 3 is out of range; the file has 3 columns" in error(GOOD, label_column=3)


def test_too_many_classes() -> None:
    rows = "\n".join(f"{i},class{i}" for i in range(9))
    msg = error("x,y\n" + rows)
    assert "label column 'y' has 9 distinct values; at most 8 classes are allowed" in msg
    rows = "\n".join(f"{i},{i % 4}" for i in range(12))
    assert "at most 3 classes" in error("x,y\n" + rows, max_classes=3, task="classification")


def test_single_column() -> None:
    msg = error("label\na\nb\n")
    assert "found 1 column ('label')" in msg and "feature column and a label column" in msg


def test_bad_header_names() -> None:
    assert "column name 'x' appears twice" in error("x,x,y\n1,2,a\n3,4,b\n")
    assert "column 2 has no name in the header" in error("x,,y\n1,2,a\n3,4,b\n")


def test_regression_with_text_labels() -> None:
    msg = error("x,y\n1,0.5\n2,cat\n", task="regression")
    assert "regression needs numeric labels; found 'cat' at line 3, column 'y'" in msg


def test_not_utf8() -> None:
    assert "not UTF-8 text" in error("x,y\n1,caf\xe9\n".encode("latin-1"))


def test_missing_closing_quote() -> None:
    # The csv module would silently swallow the rest of the file into one cell.
    msg = error('x,y\n1,a\n2,"b\n3,c\n4,d\n')
    assert "line 3: a quoted cell runs over several lines (lines 3-5)" in msg
    assert "closing quote missing" in msg


def test_malformed_csv() -> None:
    # A cell longer than the csv module's field limit is the module's own complaint.
    msg = error("x,y\n1,a\n2," + "b" * 200_000 + "\n")
    assert msg.startswith("malformed CSV at line 3: field larger than field limit")


def test_unknown_task() -> None:
    assert "task must be one of classification, regression" in error(GOOD, task="binary")


def test_not_text() -> None:
    assert "expected the CSV file as text, got int" in error(5)  # type: ignore[arg-type]


def test_round_trip_of_a_written_table_is_exact() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(scale=1e3, size=(50, 4))
    y = rng.integers(0, 3, 50)
    lines = ["a,b,c,d,kind"] + [",".join(map(repr, row.tolist())) + f",k{c}" for row, c in zip(X, y)]
    ds = parse_csv("\n".join(lines))
    assert ds.X.tobytes() == X.tobytes()
    assert np.array_equal(ds.y, y) and ds.class_names == ("k0", "k1", "k2")
