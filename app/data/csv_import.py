"""Turn the text of a user's CSV file into a Dataset, or say exactly what is wrong.

Expected shape: a header row naming the columns, then one row per sample;
numeric feature columns and one label column (default: the last). Commas,
semicolons or tabs separate cells (guessed from the header line).

The task is read from the labels:
- every label an integer and at most `max_classes` distinct values -> classification
  (class names are the integers, in numeric order);
- numbers otherwise -> regression (targets as given, not rescaled);
- any non-numeric label -> classification with the labels as class names
  (alphabetical order); more than `max_classes` of them is an error.
Pass `task="classification"` or `task="regression"` to override the guess.

Every problem raises DataError (a ValueError) whose message names the line and
column at fault and what is allowed. Line numbers count physical lines from 1,
the header being line 1, as a text editor shows them.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from app.data.dataset import Dataset

MAX_ROWS = 2000  # data rows, the server's max_points
MAX_COLS = 17  # 16 features (the server's max_features) + 1 label
MAX_BYTES = 1_000_000
MAX_CLASSES = 8
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
CSV_TASKS = ("classification", "regression")


class DataError(ValueError):
    """A file that cannot become a Dataset. str(err) says what was wrong and what is allowed."""


def _to_float(cell: str) -> float | None:
    """The number in `cell`, or None if it is not one (NaN and inf do parse, as floats)."""
    try:
        return float(cell)
    except ValueError:
        return None


def _decode(text: str | bytes, max_bytes: int) -> str:
    if isinstance(text, (bytes, bytearray)):
        size = len(text)
    elif isinstance(text, str):
        # A char is at least one UTF-8 byte, so a long string is too large before encoding it.
        size = len(text) if len(text) > max_bytes else len(text.encode("utf-8", errors="replace"))
    else:
        raise DataError(f"expected the CSV file as text, got {type(text).__name__}")
    if size > max_bytes:
        raise DataError(f"file too large: {size:,} bytes; the limit is {max_bytes:,} bytes")
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(
                f"the file is not UTF-8 text (bad byte at position {err.start}); save it as CSV UTF-8"
            ) from None
    return text.removeprefix("\ufeff")  # Excel writes a byte-order mark


def _read_table(text: str, max_rows: int, max_cols: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header names, [(line number, cells)] of data rows), shape-checked but not typed."""
    if not text.strip():
        raise DataError("the file is empty; expected a header row naming the columns, then one row per sample")
    first_line = next(line for line in text.splitlines() if line.strip())
    delimiter = max(_DELIMITERS, key=first_line.count)  # ties go to the comma
    # skipinitialspace: `a, "b"` is two cells a and b, as people type them.
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    end = 0  # last physical line read so far
    try:
        for cells in reader:
            start, end = end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines and rows of bare separators, as spreadsheets export them
            if any("\n" in c or "\r" in c for c in cells):
                # Only a quoted cell can span lines; in a numeric table that is a missing closing quote.
                raise DataError(
                    f"line {start}: a quoted cell runs over several lines (lines {start}-{end}); "
                    "is a closing quote missing? Cells may not contain line breaks"
                )
            if header is None:
                header = [c.strip() for c in cells]
                _check_header(header, delimiter, max_cols)
                continue
            if len(cells) != len(header):
                raise DataError(
                    f"line {end} has {len(cells)} cells but the header has "
                    f"{len(header)} columns; every row needs exactly one value per column"
                )
            if len(rows) == max_rows:
                raise DataError(f"too many rows: more than {max_rows:,} data rows; the limit is {max_rows:,}")
            rows.append((end, [c.strip() for c in cells]))
    except csv.Error as err:
        raise DataError(f"malformed CSV at line {reader.line_num}: {err}") from None
    if header is None:  # not blank, yet no cell: only separators
        raise DataError("the file has no header row: every line is empty or only separators")
    if len(rows) < 2:
        raise DataError(f"the file has {len(rows)} data row(s) after the header; at least 2 are needed")
    return header, rows


def _check_header(header: list[str], delimiter: str, max_cols: int) -> None:
    numeric = [_to_float(c) is not None for c in header]
    # All numbers (or all but a last text label) means the first row is data, not names.
    if all(numeric) or (all(numeric[:-1]) and len(header) > 1):
        raise DataError(
            f"no header: the first row ({', '.join(c[:20] for c in header[:5])}{', ...' if len(header) > 5 else ''}) "
            f"looks like data; the first row must name the columns, e.g. x1,x2,label"
        )
    if len(header) < 2:
        raise DataError(
            f"found 1 column ({header[0]!r}) with {_DELIMITER_NAMES[delimiter]} as separator; "
            "need at least one feature column and a label column, separated by commas"
        )
    if len(header) > max_cols:
        raise DataError(
            f"too many columns: {len(header)}; the limit is {max_cols} ({max_cols - 1} features and 1 label)"
        )
    for j, name in enumerate(header):
        if not name:
            raise DataError(f"column {j + 1} has no name in the header; every column needs a name")
        if header.index(name) != j:
            raise DataError(f"column name {name!r} appears twice in the header; names must be unique")


def _label_index(header: list[str], label_column: str | int | None) -> int:
    if label_column is None:
        return len(header) - 1
    if isinstance(label_column, int) and not isinstance(label_column, bool):
        if -len(header) <= label_column < len(header):
            return label_column % len(header)
        raise DataError(f"label column index {label_column} is out of range; the file has {len(header)} columns")
    if isinstance(label_column, str) and label_column.strip() in header:
        return header.index(label_column.strip())
    raise DataError(f"unknown label column {label_column!r}; columns are: {', '.join(header)}")


def _features(header: list[str], rows: list[tuple[int, list[str]]], label: int) -> np.ndarray:
    cols = [j for j in range(len(header)) if j != label]
    X = np.empty((len(rows), len(cols)), dtype=np.float64)
    for i, (line, cells) in enumerate(rows):
        for k, j in enumerate(cols):
            cell, where = cells[j], f"line {line}, column {header[j]!r}"
            if not cell:
                raise DataError(f"empty cell at {where}; every feature cell needs a number")
            value = _to_float(cell)
            if value is None:
                raise DataError(
                    f"non-numeric value {cell[:40]!r} at {where}; feature columns must hold numbers "
                    f"such as 1.5 or -2e3 (only the label column may hold text)"
                )
            if not np.isfinite(value):
                raise DataError(f"value {cell!r} at {where} is not a finite number; NaN and infinity are not allowed")
            X[i, k] = value
    return X


def _labels(
    name: str, rows: list[tuple[int, list[str]]], label: int, task: str | None, max_classes: int
) -> tuple[str, np.ndarray, tuple[str, ...]]:
    """(task, y, class_names) from the label cells of column `name`."""
    cells = [cells[label] for _, cells in rows]
    lines = [line for line, _ in rows]
    for line, cell in zip(lines, cells):
        if not cell:
            raise DataError(f"empty label at line {line}, column {name!r}; every row needs a label")
    parsed = [_to_float(c) for c in cells]
    numbers = [v for v in parsed if v is not None]
    numeric = len(numbers) == len(cells)
    if numeric:
        for line, cell, v in zip(lines, cells, numbers):
            if not np.isfinite(v):
                raise DataError(f"label {cell!r} at line {line} is not a finite number; NaN and infinity are not allowed")
    few_integers = numeric and all(v.is_integer() for v in numbers) and len(set(numbers)) <= max_classes
    if task == "regression" or (task is None and numeric and not few_integers):
        if not numeric:
            line, bad = next((ln, c) for ln, c, v in zip(lines, cells, parsed) if v is None)
            raise DataError(f"regression needs numeric labels; found {bad[:40]!r} at line {line}, column {name!r}")
        return "regression", np.array(numbers, dtype=np.float64), ()
    # Classification: number labels in numeric order ("1" and "1.0" are one class), text alphabetically.
    index: dict[float | str, int]
    keys: list[float | str]
    if numeric:
        values = sorted(set(numbers))
        names = tuple(str(int(v)) if v.is_integer() else repr(v) for v in values)
        index, keys = {v: i for i, v in enumerate(values)}, list(numbers)
    else:
        texts = sorted(set(cells))
        names = tuple(texts)
        index, keys = {c: i for i, c in enumerate(texts)}, list(cells)
    if len(names) > max_classes:
        raise DataError(
            f"label column {name!r} has {len(names)} distinct values; at most {max_classes} classes are "
            f"allowed (numeric labels with decimals are read as regression)"
        )
    if len(names) < 2:
        raise DataError(
            f"label column {name!r} has only one class ({names[0]!r}); classification needs at least 2 classes"
        )
    y = np.array([index[key] for key in keys], dtype=np.int64)
    return ("binary" if len(names) == 2 else "multiclass"), y, names


def parse_csv(
    text: str | bytes,
    label_column: str | int | None = None,
    max_rows: int = MAX_ROWS,
    max_cols: int = MAX_COLS,
    max_bytes: int = MAX_BYTES,
    *,
    max_classes: int = MAX_CLASSES,
    task: str | None = None,
) -> Dataset:
    """Parse CSV `text` (str, or UTF-8 bytes) into a Dataset.

    label_column: header name, column index (negative counts from the end) or
    None for the last column. Every other column is a numeric feature.
    max_rows counts data rows; max_cols counts all columns including the label.
    task: None to guess from the labels, "classification" or "regression".
    Returns Dataset(X [N x D] float64, y [N], task, n_classes, feature_names,
    class_names, name="csv"). Raises DataError with a message for users.
    """
    if task is not None and task not in CSV_TASKS:
        raise DataError(f"task must be one of {', '.join(CSV_TASKS)} or None (guess), got {task!r}")
    header, rows = _read_table(_decode(text, max_bytes), max_rows, max_cols)
    label = _label_index(header, label_column)
    X = _features(header, rows, label)
    kind, y, class_names = _labels(header[label], rows, label, task, max_classes)
    ds = Dataset(
        X=X,
        y=y,
        task=kind,
        n_classes=len(class_names),
        feature_names=tuple(h for j, h in enumerate(header) if j != label),
        class_names=class_names,
        name="csv",
        meta={"label_column": header[label]},
    )
    ds.validate()
    return ds
