"""Reading CSV and Parquet through Arrow: kinds, only the columns used, float32 conversion, formats.

Files that cannot be read (encodings, separators, FIFOs, ...) are cases of test_bad_input.py's
table; here are the files that must be read, and what comes out of them. Each file is tiny and
built in the test; numpy's own parsing of the same text is the reference for numbers."""

import gzip

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torchtwolayer.data import csv_reader, parquet_reader
from torchtwolayer.data.tables import CSVFormatError, from_arrays, open_table

MIXED = "id,x,n,flag,colour,empty,y\na,1.5,3,true,red,,0\nb,-2.25,4,false,,,1\nc,,5,true,blue,,0\n"


def blocks(table, names, rows=2):
    """The float32 matrix the blocks of ``rows`` rows make, each cell checked to come exactly once."""
    X, seen = np.full((table.num_rows, len(names)), np.inf, np.float32), np.zeros((table.num_rows, len(names)), int)
    for start, first, block in table.float_blocks(names, rows=rows):
        assert len(block) <= rows
        X[start : start + len(block), first : first + block.shape[1]] = block
        seen[start : start + len(block), first : first + block.shape[1]] += 1
    assert (seen == 1).all()
    return X


def test_kinds_and_values_of_a_csv(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED)
    table = open_table(path).load(["x", "n", "flag", "colour", "empty", "y"], numbers=["x", "n", "flag"])
    kinds = [table.kind(name) for name in ["x", "n", "flag", "colour", "empty", "y"]]
    assert kinds == ["number", "number", "boolean", "text", "empty", "integer"]
    X = blocks(table, ["x", "n", "flag"])
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, [[1.5, 3, 1], [-2.25, 4, 0], [np.nan, 5, 1]])
    colour = table.factor("colour")
    assert [colour.levels[c] if c >= 0 else None for c in colour.codes] == ["red", None, "blue"]
    y = table.factor("y")
    assert y.levels == [0, 1] and all(isinstance(v, int) for v in y.levels)  # the column's own type
    assert table.count_distinct("colour") == 2


def test_only_the_columns_asked_for_are_read(tmp_path):
    """An id of text, an empty column and a 200 000-character cell are fine when not used
    (Python's csv module stops at 131 072 characters a field)."""
    path = tmp_path / "wide.csv"
    path.write_text("id,a,b,blank,label\n" + "x" * 200_000 + ",1,2,,0\nid2,3,4,,1\n")
    table = open_table(path).load(["a", "b", "label"], numbers=["a", "b"])
    np.testing.assert_array_equal(blocks(table, ["a", "b"]), [[1, 2], [3, 4]])
    with pytest.raises(KeyError):
        table.kind("id")  # never parsed


def test_float32_conversion_matches_numpy_and_overflows_to_inf(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 2)) * [1e-3, 1e30]
    text = "\n".join(f"{a!r},{b!r}" for a, b in values.tolist())
    path = tmp_path / "f.csv"
    path.write_text("a,b\n" + text + "\n1e39,-1e39\n16777217,3\n")
    X = blocks(open_table(path).load(["a", "b"], numbers=["a", "b"]), ["a", "b"])
    with np.errstate(over="ignore"):  # numpy too rounds to nearest, and goes to ±inf beyond float32
        expected = np.vstack([values, [[1e39, -1e39], [16777217, 3]]]).astype(np.float32)
    np.testing.assert_array_equal(X, expected)


def test_a_column_numeric_at_first_and_text_further_down_is_text(tmp_path):
    """Numbers meant as float32 from the first block's look; text further down makes the column
    text (the schema then says it mixes numbers and text), the others stay float32."""
    path = tmp_path / "late.csv"
    with path.open("w") as f:  # more than Arrow's first 1 MiB block of numbers
        f.write("a,b\n" + "1,2\n" * 300_000 + "1.5,oops\n")
    table = open_table(path).load(["a", "b"], numbers=["a", "b"])
    assert table.kind("a") == "number" and table.kind("b") == "text"
    # blocks of 2 rows are the other tests'; here 150 000 of them would cost seconds of Python
    assert blocks(table, ["a"], rows=50_000)[-1, 0] == 1.5 and table.num_rows == 300_001


@pytest.mark.parametrize("delimiter,given", [(";", ";"), ("\t", "\\t"), ("|", "|")])
def test_other_separators_with_the_delimiter_flag(tmp_path, delimiter, given):
    path = tmp_path / "s.csv"
    path.write_text(delimiter.join(["a", "b", "label"]) + "\n" + delimiter.join(["1,5", "2", "0"]) + "\n")
    with pytest.raises(CSVFormatError, match=r"pass --data\.delimiter"):
        open_table(path)
    table = open_table(path, delimiter=given).load(["a", "b", "label"])
    assert table.names == ["a", "b", "label"] and table.factor("a").levels == ["1,5"]


def test_gzip_csv_reads_like_the_plain_file(tmp_path):
    (tmp_path / "d.csv").write_text(MIXED)
    (tmp_path / "d.csv.gz").write_bytes(gzip.compress(MIXED.encode()))
    plain, packed = (open_table(tmp_path / n).load(["x", "n"], numbers=["x", "n"]) for n in ("d.csv", "d.csv.gz"))
    np.testing.assert_array_equal(blocks(plain, ["x", "n"]), blocks(packed, ["x", "n"]))


def test_parquet_file_and_directory_in_name_order(tmp_path, monkeypatch):
    monkeypatch.setattr(parquet_reader, "PART_BYTES", 24)  # row groups of 2 rows read 3 columns at a time
    folder = tmp_path / "parts"
    folder.mkdir()
    for name, start in (("part-2.parquet", 3), ("part-1.parquet", 0), ("part-3.parquet", 6)):
        ids = np.arange(start, start + 3)
        colour = pa.array(["r", "g", "r"]).dictionary_encode()
        data = pa.table({"id": ids, "x": ids * 0.5, "z": -ids, "colour": colour})
        pq.write_table(data, folder / name, row_group_size=2)
    (folder / "_SUCCESS").write_text("")  # a marker file, not data
    table = open_table(folder)
    assert table.num_rows == 9 and table.kind("colour") == "category"
    np.testing.assert_array_equal(blocks(table, ["id", "x", "z"]), np.arange(9)[:, None] * [1, 0.5, -1])
    assert table.factor("colour").levels == ["r", "g"]
    single = open_table(folder / "part-1.parquet")
    assert single.num_rows == 3 and single.kind("id") == "integer"


def test_ragged_row_names_its_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b\n" + "1,2\n" * 5000 + "1,2,3\n")
    with pytest.raises(CSVFormatError, match="line 5002 has 3 fields but the header has 2 columns"):
        open_table(path).load(["a", "b"])


def test_numbers_read_once_are_freed_part_by_part(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_reader, "PART_BYTES", 64)
    path = tmp_path / "n.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{2 * i},{i % 2}\n" for i in range(100)))
    table = open_table(path).load(["a", "b", "y"], numbers=["a", "b"], read_once=True)
    assert len(table._numbers) > 5 and table.factor("y").levels == [0, 1]
    np.testing.assert_array_equal(blocks(table, ["a", "b"]), np.arange(100)[:, None] * [1, 2])
    assert table._numbers == [None] * len(table._numbers) and table.num_rows == 100
    with pytest.raises(RuntimeError, match="read once already"):
        blocks(table, ["a"])


def test_a_csv_read_in_many_parts_gives_the_same_table(tmp_path, monkeypatch):
    """Parts cut at line ends; types that differ between parts (integers, then floats; numbers,
    then text) come out as one column of the wider type."""
    rng = np.random.default_rng(0)
    lines = [f"{a:.5f},{i % 3},{'t' if i == 250 else i}\n" for i, a in enumerate(rng.normal(size=300))]
    lines[290] = lines[290].replace(",2,", ",2.5,")  # an integer column with a float near the end
    path = tmp_path / "parts.csv"
    path.write_text("x,k,s\n" + "".join(lines))
    whole = open_table(path).load(["x", "k", "s"], numbers=["x"])
    monkeypatch.setattr(csv_reader, "PART_BYTES", 100)  # about 6 lines a part
    parts = open_table(path).load(["x", "k", "s"], numbers=["x"])
    assert [parts.kind(c) for c in "xks"] == [whole.kind(c) for c in "xks"] == ["number", "number", "text"]
    np.testing.assert_array_equal(blocks(parts, ["x", "k"]), blocks(whole, ["x", "k"]))
    assert parts.factor("s").levels == whole.factor("s").levels
    assert parts.num_rows == 300


def test_latin_1_text_after_the_first_block_is_named(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(b"name,a\n" + b"plain,1\n" * 200_000 + "caf\xe9,2\n".encode("latin-1"))
    with pytest.raises(CSVFormatError, match="column 'name' is not UTF-8 text"):
        open_table(path).load(["name", "a"], numbers=["a"])


def test_unnamed_and_duplicated_columns(tmp_path):
    (tmp_path / "u.csv").write_text(",a,label\n0,1,0\n")  # pandas' unnamed index: fine until used
    assert open_table(tmp_path / "u.csv").names == ["", "a", "label"]
    (tmp_path / "d.csv").write_text("a,a,label\n0,1,0\n")
    with pytest.raises(CSVFormatError, match=r"duplicated column names \['a'\]"):
        open_table(tmp_path / "d.csv")


def test_from_arrays_keeps_types():
    table = from_arrays({"x": np.array([1.0, np.nan]), "s": np.array(["u", "v"]), "b": np.array([True, False])})
    assert [table.kind(c) for c in ("x", "s", "b")] == ["number", "text", "boolean"]
    assert table.factor("b").levels == [True, False]
    np.testing.assert_array_equal(table.numbers("x"), [1.0, np.nan])
