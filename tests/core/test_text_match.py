"""Key terms and numbers for the citation check, in English, Chinese and mixed text."""

from __future__ import annotations

from core.text_match import fold, key_terms, number_values, term_overlap


def test_english_numbers_keep_their_usual_form() -> None:
    assert number_values("Refunds of $1,200 within 30 days, 14.50% fee; v2.1 and A4") == {
        "1200",
        "30",
        "14.5",
    }


def test_chinese_multipliers_and_full_width_digits() -> None:
    assert number_values("营收3.5亿元，增长１２％") == {"350000000", "12"}
    assert number_values("员工1,200万人次") == {"12000000"}
    assert number_values("３５万") == number_values("350,000") == {"350000"}
    assert number_values("收入2万亿") == {"2000000000000"}
    # a number glued to Han characters is still found (\w would treat 入 as part of a word)
    assert number_values("收入42元") == {"42"}


def test_same_amount_written_two_ways_matches() -> None:
    assert number_values("净利润达到3.5亿元") <= number_values("Net income was 350,000,000 yuan")


def test_fold_full_width() -> None:
    assert fold("ＡＢＣ１２３，") == "ABC123,"
    assert fold("plain") == "plain"


def test_key_terms_segment_chinese_and_stem_english() -> None:
    terms = key_terms("员工可以申请育儿假吗？Employees may apply for parental leave.")
    assert {"员工", "申请", "育儿"} <= terms
    assert {"employe", "appli", "parent", "leav"} <= terms
    assert not any(t.isdigit() for t in key_terms("2023年收入42亿"))
    assert "的" not in key_terms("公司的政策")


def test_term_overlap() -> None:
    assert term_overlap("公司的退货政策是三十天", "根据公司政策，退货须在三十天内完成。") >= 0.5
    assert term_overlap("数据中心收入增长", "员工福利与育儿假说明") == 0.0
    assert term_overlap("好的", "anything") == 1.0
