"""A Chinese knowledge base from the command line: create, fill, search in Chinese and in English.

Runs with e5-small (the lighter multilingual model); EmbeddingGemma, what `multilingual` names, is
checked through the same protocol in tests/ingest/test_real_embedder.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.test_cli_ingest import run_kb

pytestmark = pytest.mark.slow

HANDBOOK = """# 员工手册

## 年假

员工每年享有十五天带薪年假。未使用的年假最多可结转五天到下一年度！年假须提前两周在系统中申请。

## 报销

出差费用须在出差结束后三十天内提交报销，并附上原始发票。单笔超过５,０００元的报销需要部门经理批准。

## 信息安全

请在3月1日前更新VPN客户端。公司电脑不得安装未经批准的软件；发现可疑邮件请立即报告IT部门。
"""


def test_chinese_base_created_filled_and_searched(tmp_path: Path) -> None:
    data, doc = tmp_path / "data", tmp_path / "员工手册.md"
    doc.write_text(HANDBOOK, encoding="utf-8")
    run_kb(data, "bases", "create", "cn", embedder="e5-small")
    ingest = run_kb(data, "ingest", str(doc), "--kb", "cn", "--json", embedder="e5-small")
    report = json.loads(ingest.stdout)
    assert report["added"] == 1 and report["chunks"] >= 3

    def top(query: str) -> dict[str, object]:
        out = run_kb(data, "search", query, "--kb", "cn", "-k", "3", "--json", embedder="e5-small")
        return json.loads(out.stdout)[0]

    assert "十五天带薪年假" in str(top("每年有几天年假？")["text"])
    assert "５,０００元" in str(top("报销多少钱以上需要经理批准？")["text"])
    english = top("How many days of paid annual leave do employees get?")  # cross-lingual
    assert "年假" in str(english["text"])
    assert english["section"] and "年假" in str(english["section"])
    # the base recorded the multilingual model: an English-embedder process refuses to add to it
    wrong = run_kb(data, "ingest", str(doc), "--kb", "cn", check=False, embedder="minilm-int8")
    assert wrong.returncode != 0 and "multilingual-e5-small-q4" in (wrong.stderr + wrong.stdout)
