"""A Chinese knowledge base from the command line, with the real models: created with
``--embedder multilingual`` (EmbeddingGemma) in a process whose default is the English MiniLM,
filled, searched in Chinese and in English, searched together with an English base, asked in Chinese
(the bundled tiny LLM; the answer or abstention is in Chinese), and re-embedded with e5-small."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.text_match import language_of
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


def test_chinese_base_created_filled_searched_asked_and_reembedded(tmp_path: Path) -> None:
    data, doc, english = tmp_path / "data", tmp_path / "员工手册.md", tmp_path / "returns.md"
    doc.write_text(HANDBOOK, encoding="utf-8")
    english.write_text(
        "# Returns\n\nUnopened items can be returned within 30 days for a full refund.\n\n"
        "# Shipping\n\nOrders over 50 dollars ship free within three working days.\n\n"
        "# Warranty\n\nElectronics carry a two-year warranty against manufacturing defects.\n"
    )  # several chunks: fused scores are standardised per base (a one-chunk base scores 0)
    created = json.loads(run_kb(data, "bases", "create", "cn", "--embedder", "multilingual", "--json").stdout)
    assert created["embedder"] == "embeddinggemma"
    run_kb(data, "bases", "create", "shop")  # the process default: English MiniLM
    report = json.loads(run_kb(data, "ingest", str(doc), "--kb", "cn", "--json").stdout)
    assert report["added"] == 1 and report["chunks"] >= 3
    run_kb(data, "ingest", str(english), "--kb", "shop")
    bases = {b["name"]: b for b in json.loads(run_kb(data, "bases", "list", "--json").stdout)}
    assert (bases["cn"]["embedder"], bases["cn"]["dim"]) == ("embeddinggemma", 768)
    assert (bases["shop"]["embedder"], bases["shop"]["dim"]) == ("minilm", 384)

    def top(query: str, *kbs: str) -> dict[str, object]:
        flags = [arg for kb in kbs or ("cn",) for arg in ("--kb", kb)]
        return json.loads(run_kb(data, "search", query, *flags, "-k", "3", "--json").stdout)[0]  # type: ignore[no-any-return]

    assert "十五天带薪年假" in str(top("每年有几天年假？")["text"])
    assert "５,０００元" in str(top("报销多少钱以上需要经理批准？")["text"])
    cross = top("How many days of paid annual leave do employees get?")  # cross-lingual
    assert "年假" in str(cross["text"]) and "年假" in str(cross["section"])
    # two bases, two models: each query is embedded per model and fused per base
    assert top("每年有几天年假？", "cn", "shop")["kb"] == "cn"
    assert top("How long can unopened items be returned?", "cn", "shop")["kb"] == "shop"

    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data), KB_RERANKER="none", KB_LLM_PROFILE="tiny", KB_ANSWER_MAX_TOKENS="48")
    asked = subprocess.run(
        [sys.executable, "-m", "app.cli", "ask", "员工每年有几天带薪年假？", "--kb", "cn", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    answer = json.loads(asked.stdout)
    assert language_of(answer["answer"]) == "zh", answer["answer"]
    assert (answer["citations"] or answer["closest_sources"])[0]["source"] == "员工手册.md"

    moved = json.loads(run_kb(data, "bases", "reembed", "cn", "--embedder", "e5-small", "--json").stdout)
    assert (moved["previous"], moved["embedder"], moved["dim"]) == ("embeddinggemma", "e5-small", 384)
    assert "十五天带薪年假" in str(top("每年有几天年假？")["text"])
    assert not run_kb(data, "bases", "check", "cn", check=False).returncode
    again = run_kb(data, "bases", "reembed", "cn", "--embedder", "e5-small", check=False)
    assert again.returncode == 2 and "already uses the e5-small embedder" in again.stderr
