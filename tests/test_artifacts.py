import os

import pandas as pd
import pyarrow as pa
import pytest

from tpt import artifacts


def _problems():
    return pd.DataFrame({"problem_id": ["x/0"], "question": ["1+1?"], "answer": ["2"], "solution": [None]})


def test_round_trip_keeps_columns_and_types(tmp_path):
    path = tmp_path / "p.parquet"
    artifacts.write(_problems(), str(path), artifacts.PROBLEMS)
    back = artifacts.read(str(path), artifacts.PROBLEMS)
    assert back.to_dict("records") == [{"problem_id": "x/0", "question": "1+1?", "answer": "2", "solution": None}]


def test_missing_column_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"\['answer'\]"):
        artifacts.write(_problems().drop(columns="answer"), str(tmp_path / "p.parquet"), artifacts.PROBLEMS)


def test_wrong_type_fails_and_leaves_no_file(tmp_path):
    path = tmp_path / "m.parquet"
    bad = pd.DataFrame({"round": ["one"], "metric": ["x"], "k": [None], "value": [1.0], "stderr": [None]})
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        artifacts.write(bad, str(path), artifacts.METRICS)
    assert os.listdir(tmp_path) == []


def test_reading_an_artifact_of_another_schema_says_what_to_do(tmp_path):
    path = str(tmp_path / "p.parquet")
    artifacts.write(_problems(), path, artifacts.PROBLEMS)
    with pytest.raises(ValueError, match="delete it and rerun"):
        artifacts.read(path, artifacts.SFT)


def test_missing_artifact_names_the_command_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="snakemake"):
        artifacts.read(str(tmp_path / "nope.parquet"), artifacts.PROBLEMS)


def test_a_failed_write_keeps_the_previous_artifact(tmp_path):
    path = str(tmp_path / "out.txt")
    with open(path, "w") as f:
        f.write("old")
    with pytest.raises(RuntimeError):
        with artifacts.atomic(path) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("killed")
    assert open(path).read() == "old" and os.listdir(tmp_path) == ["out.txt"]
