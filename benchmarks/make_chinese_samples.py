"""Writes samples/chinese/: the demo's Chinese knowledge base, a dozen Chinese Wikipedia paragraphs
from the CMRC 2018 trial set (CC BY-SA 4.0), one Markdown file each under wiki/, with example
questions and the attribution.

Usage: ``python -m benchmarks.make_chinese_samples [--shared ../shared/datasets]``
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from benchmarks.datasets import DEFAULT_SHARED, REPO, _datasets_dir

OUT = REPO / "samples" / "chinese"
# Paragraphs on everyday topics whose questions the bundled 1.5B model answers from them, in the
# order of the dataset's corpus file.
PARAGRAPHS = (
    "TRIAL_154",  # 尤金袋鼠
    "TRIAL_235",  # 猴面包树
    "TRIAL_265",  # 放线菌酮
    "TRIAL_723",  # MIT OpenCourseWare
    "TRIAL_359",  # 冰雪皇后
    "TRIAL_263",  # 大果西番莲
    "TRIAL_589",  # 山东女子学院
    "TRIAL_21",  # 亚硫酸盐
    "TRIAL_648",  # 阿普伽新生儿评分
    "TRIAL_411",  # 2008年NBA总决赛
    "TRIAL_641",  # 芙蓉洞
    "TRIAL_662",  # 乍都节公园
)
EXAMPLES = (
    ("亚硫酸盐在葡萄酒中的作用是什么？", "TRIAL_21"),
    ("芙蓉洞位于什么地方？", "TRIAL_641"),
    ("山东女子学院现有几个校区？", "TRIAL_589"),
    ("What is the Apgar score for newborns used for?", "TRIAL_648"),  # English question, Chinese source
)
ATTRIBUTION = """# Chinese samples (Chinese Wikipedia paragraphs from CMRC 2018)

Source: the trial set of CMRC 2018, the Chinese machine reading comprehension evaluation (Cui et al.,
"A Span-Extraction Dataset for Chinese Machine Reading Comprehension", EMNLP 2019), file
`squad-style-data/cmrc2018_trial.json`; GitHub ymcui/cmrc2018 @ c0eb1b6ba219847457e6af3180da722bbeb656af.
The paragraphs are from Chinese Wikipedia (zh.wikipedia.org), whose authors are credited in each
article's history.

License: Creative Commons Attribution-ShareAlike 4.0 International (CC BY-SA 4.0); the full text is
in `LICENSE.CC-BY-SA-4.0.txt` beside this file. This folder is shared under the same license.

Changes: {count} paragraphs chosen by us, each saved as a Markdown file headed by its article title;
the text is unchanged. Regenerate with `python -m benchmarks.make_chinese_samples`.
"""


def _file_name(title: str) -> str:
    return re.sub(r"[\\\\/:*?\"<>|\s]+", "_", title).strip("_") + ".md"


def write(shared: Path = DEFAULT_SHARED, out: Path = OUT) -> int:
    """Write the sample files; returns how many paragraphs."""
    source = _datasets_dir(shared) / "cmrc2018_trial_zh"
    corpus = {
        row["_id"]: row
        for row in map(json.loads, (source / "corpus.jsonl").read_text(encoding="utf-8").splitlines())
    }
    if out.exists():
        shutil.rmtree(out)
    (out / "wiki").mkdir(parents=True)
    for pid in PARAGRAPHS:
        row = corpus[pid]
        (out / "wiki" / _file_name(row["title"])).write_text(
            f"# {row['title']}\n\n{row['text']}\n", encoding="utf-8"
        )
    examples = [
        {"question": q, "note": f"wiki/{_file_name(corpus[pid]['title'])} (CMRC 2018 {pid})"}
        for q, pid in EXAMPLES
    ]
    (out / "example_questions.json").write_text(
        json.dumps(examples, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (out / "ATTRIBUTION.md").write_text(ATTRIBUTION.format(count=len(PARAGRAPHS)), encoding="utf-8")
    shutil.copy(source / "LICENSE.CC-BY-SA-4.0.txt", out / "LICENSE.CC-BY-SA-4.0.txt")
    return len(PARAGRAPHS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared datasets folder")
    args = parser.parse_args()
    print(f"wrote {write(args.shared)} paragraphs to {OUT}")


if __name__ == "__main__":
    main()
