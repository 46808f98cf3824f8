"""Regenerate ``samples/retail/``: one Markdown product sheet per product, from Amazon's hetPQA data.

Usage: .venv/bin/python -m benchmarks.make_retail_samples [--shared DIR] [--out DIR]

hetPQA (toys & games; CDLA-Sharing-1.0) gives, per product (ASIN), real shopper questions with the
evidence snippets that answer them (attributes, description, bullets, reviews, community answers,
other web pages), plus a human-written answer per question/evidence pair. It has no product titles,
so ``PRODUCTS`` below names each chosen product by hand from its evidence. The choice is fixed here
(products with many answered questions, one per kind of product) and the output is deterministic:
re-running writes the same bytes.

What goes into a product sheet:
- only *positive* evidence (``answer_generation`` rows, and ``evidence_ranking`` rows labelled 1);
  the negatives include snippets about other products;
- attributes, description lines, feature bullets and review snippets under ``## Product facts``;
  "OSP" snippets (buying guides elsewhere on the web) are left out: they often talk about other
  products and are not the retailer's own product data;
- ``## Customer questions``: each question with up to three distinct human-written answers (those
  drawn from catalog data first, then community answers, then reviews; shoppers' answers can
  disagree, as on a real product page), or, for evidence-ranking-only questions, the community
  answers marked as answering it. Questions answered only from OSP are left out.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared" / "datasets"
DEFAULT_OUT = REPO / "samples" / "retail"
LICENSE_NAME = "LICENSE.CDLA-Sharing-1.0.txt"

# ASIN -> (file-name slug, title). Titles are ours, written from each product's evidence.
PRODUCTS: dict[str, tuple[str, str]] = {
    "B004S8F7QM": ("cards-against-humanity", "Cards Against Humanity party card game (main set)"),
    "B00F4WMAAW": ("syma-s107g-rc-helicopter", "Syma S107G 3-channel infrared RC helicopter with gyro"),
    "B005LAZDMY": ("royalbaby-freestyle-kids-bike", "RoyalBaby Freestyle kids' bike (12 to 20 inch)"),
    "B00592BOAO": ("kidkraft-wooden-play-kitchen", "KidKraft wooden play kitchen"),
    "B000FH18FY": ("schwinn-roadster-tricycle", "Schwinn Roadster kids' tricycle"),
    "B002PEGT9U": (
        "peg-perego-john-deere-ground-force-tractor",
        "Peg Perego John Deere Ground Force 12-volt ride-on tractor with trailer",
    ),
    "B000NOU54O": (
        "my-first-lab-duo-scope-microscope",
        "My First Lab Duo-Scope microscope with accessory kit",
    ),
    "B00DMC6KAC": ("rainbow-loom-crafting-kit", "Rainbow Loom bracelet crafting kit"),
    "B000EULZDM": (
        "cardinal-mexican-train-dominoes",
        "Cardinal Mexican Train double-12 dominoes in aluminum case",
    ),
    "B00CWER3XY": ("lego-mindstorms-ev3", "LEGO Mindstorms EV3 robot kit"),
    "B0084JUNXS": ("crayola-light-up-tracing-pad", "Crayola Light-up Tracing Pad"),
    "B008DJDUPM": ("mac-sports-beachcomber-wagon", "Mac Sports Beachcomber MacWagon folding wagon"),
    "B00A2HD40E": ("pandemic-board-game", "Pandemic cooperative board game"),
    "B000058TJ3": ("intex-swim-center-family-pool", "Intex Swim Center inflatable family pool"),
}

FACT_SECTIONS = (
    ("attribute", "Specifications"),
    ("Desc", "Description"),
    ("bullet", "Features"),
    ("review", "From customer reviews"),
)
# Which evidence an answer is preferably drawn from (catalog data first, OSP never).
ANSWER_SOURCE_RANK = {"attribute": 0, "bullet": 1, "Desc": 2, "CQA": 3, "review": 4}
ANSWER_FILES = ("train", "dev", "test")
MAX_ANSWERS = 3  # distinct answers shown per question, catalog-drawn first


@dataclass
class Product:
    """Positive evidence and answered questions of one ASIN, in first-seen order."""

    facts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def load_products(hetpqa: Path, asins: set[str]) -> dict[str, Product]:
    """Positive evidence and answered questions of ``asins`` from the hetPQA files under ``hetpqa``."""
    products: dict[str, Product] = {asin: Product() for asin in asins}
    order = 0
    for split in ANSWER_FILES:
        for row in _read_tsv(hetpqa / "answer_generation" / f"{split}.csv"):
            if row["ASIN"] not in asins:
                continue
            product = products[row["ASIN"]]
            _add_fact(product, row["source"], row["candidate"])
            rank = ANSWER_SOURCE_RANK.get(row["source"])
            if rank is not None and row["answer"].strip():
                product.answers.setdefault(row["question"].strip(), []).append((rank, order, row["answer"]))
            order += 1
    for row in _read_tsv(hetpqa / "evidence_ranking" / "dev.csv"):
        if row["ASIN"] not in asins or row["label"] != "1":
            continue
        product = products[row["ASIN"]]
        _add_fact(product, row["source"], row["candidate"])
        if row["source"] == "CQA":
            # No written answer in this file: the community answer marked relevant is the answer.
            product.answers.setdefault(row["question"].strip(), []).append(
                (len(ANSWER_SOURCE_RANK), order, row["candidate"])
            )
        order += 1
    return products


def _add_fact(product: Product, source: str, candidate: str) -> None:
    if source == "attribute":
        line = render_attribute(candidate)
    elif source in ("Desc", "bullet", "review"):
        line = clean_text(candidate)
    else:
        return
    if line and line.lower() not in {x.lower() for x in product.facts[source]}:
        product.facts[source].append(line)


def clean_text(text: str) -> str:
    """One evidence line, tidied: unescaped quotes, no list markers, one space, capitalised."""
    text = text.replace('\\"', '"').replace("''", '"')
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"^(?:[-•*+]\s*|#\s+)+", "", text).strip()
    return text[:1].upper() + text[1:]


# --- attributes: `name:  { value:"x" }; { unit:inches, normalized_value:{...}, value:42. }` ---------


def render_attribute(candidate: str) -> str:
    """``item_weight:  { unit:pounds, ..., value:13. }`` → ``**Item weight:** 13 pounds``."""
    name, _, rest = candidate.partition(":")
    label = name.strip().replace("_", " ").capitalize()
    try:
        values = _AttributeParser(rest).parse_top()
        rendered = "; ".join(dict.fromkeys(v for v in (_render(value) for value in values) if v))
    except ValueError:
        rendered = clean_text(rest)
    return f"**{label}:** {rendered}" if rendered else ""


class _AttributeParser:
    """A recursive-descent parser for hetPQA's attribute notation (objects, lists, bare words)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse_top(self) -> list[Any]:
        values = [self._value()]
        while self._peek() == ";":
            self.pos += 1
            values.append(self._value())
        if self._peek():
            raise ValueError(f"trailing text at {self.pos}")
        return values

    def _peek(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _value(self) -> Any:
        char = self._peek()
        if char == "{":
            return self._object()
        if char == "[":
            return self._list()
        if char == '"':
            return self._string()
        return self._bare()

    def _object(self) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while self._peek() != "}":
            if not self._peek():
                raise ValueError("unterminated object")
            key = self._bare(stop=":")
            if self._peek() != ":":
                raise ValueError(f"expected ':' at {self.pos}")
            self.pos += 1
            out[key] = self._value()
            if self._peek() == ",":
                self.pos += 1
        self.pos += 1
        return out

    def _list(self) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while self._peek() != "]":
            if not self._peek():
                raise ValueError("unterminated list")
            out.append(self._value())
            if self._peek() == ",":
                self.pos += 1
        self.pos += 1
        return out

    def _string(self) -> str:
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                chars.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if char == '"':
                return "".join(chars)
            chars.append(char)
        raise ValueError("unterminated string")

    def _bare(self, stop: str = ",}];") -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stop:
            self.pos += 1
        return self.text[start : self.pos].strip()


def _number(text: str) -> str:
    if re.fullmatch(r"-?\d+\.\d*|-?\d+", text):
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return text or "0"


def _scalar(value: str) -> str:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return "yes" if lowered == "true" else "no"
    return _number(value.replace("_", " ") if " " not in value else value)


def _measure(obj: dict[str, Any]) -> str:
    text = f"{_render(obj['value'])} {_render(obj['unit'])}"
    normal = obj.get("normalized_value")
    if isinstance(normal, dict) and "unit" in normal and normal.get("unit") != obj["unit"]:
        text += f" ({_render(normal['value'])} {_render(normal['unit'])})"
    return text


def _render(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(dict.fromkeys(r for r in (_render(v) for v in value) if r))
    if not isinstance(value, dict):
        return _scalar(str(value))
    if {"length", "width", "height"} <= value.keys():
        return ", ".join(f"{axis} {_render(value[axis])}" for axis in ("length", "width", "height"))
    if "unit" in value and "value" in value:
        return _measure(value)
    if "currency" in value and "value" in value:
        return f"{_render(value['value'])} {str(value['currency']).upper()}"
    if "quantity" in value and "type" in value:
        kind = str(value["type"]).replace("_", " ")
        return f"{_render(value['quantity'])} x {kind.upper() if len(kind) <= 3 else kind}"
    if set(value) <= {"value", "type", "standardized_values"} and "value" in value:
        return _render(value["value"])
    return ", ".join(f"{k.replace('_', ' ')} {_render(v)}" for k, v in value.items())


# --- output ----------------------------------------------------------------------------------------


def product_markdown(asin: str, title: str, product: Product) -> str:
    """The Markdown sheet of one product."""
    lines = [f"# {title}", "", f"Amazon ASIN: {asin}. Category: toys & games.", "", "## Product facts", ""]
    for source, heading in FACT_SECTIONS:
        facts = product.facts.get(source) or []
        if facts:
            lines += [f"### {heading}", "", *(f"- {fact}" for fact in facts), ""]
    if product.answers:
        lines += ["## Customer questions", ""]
        for question, answers in product.answers.items():
            distinct = dict.fromkeys(clean_text(text) for _, _, text in sorted(answers))
            lines += [f"**Q:** {clean_text(question)}", *(f"- {a}" for a in list(distinct)[:MAX_ANSWERS]), ""]
    return "\n".join(lines).rstrip() + "\n"


def attribution(shared_manifest: str) -> str:
    source = next(
        (line.strip() for line in shared_manifest.splitlines() if line.startswith("SOURCE:")),
        "SOURCE: GitHub amazon-science/contextual-product-qa",
    )
    return (
        "# Retail samples (product sheets from Amazon's hetPQA, toys & games)\n\n"
        'Source: Amazon Science `contextual-product-qa` ("Contextual Product QA": ePQA + hetPQA; Shen et al.,\n'
        "ECNLP 2022 / arXiv:2305.09249), files `hetPQA/answer_generation/{train,dev,test}.csv` and\n"
        f"`hetPQA/evidence_ranking/dev.csv`; {source.removeprefix('SOURCE: ')}.\n\n"
        "License: Community Data License Agreement – Sharing, Version 1.0 (CDLA-Sharing-1.0); the full text\n"
        f"is in `{LICENSE_NAME}` beside this file.\n\n"
        "Changes (this is a derived work, shared under the same license): for 14 products, the evidence\n"
        "snippets that the dataset marks as answering a shopper question (attributes, description lines,\n"
        "feature bullets, review snippets) are grouped into one Markdown sheet per product, with the shopper\n"
        "questions and their human-written answers. Product titles and file names were added by us (the\n"
        "dataset has none); attribute values were reformatted for reading; snippets from other web pages\n"
        "(OSP) and snippets marked irrelevant were left out. Regenerate with\n"
        "`python -m benchmarks.make_retail_samples`.\n"
    )


def write_samples(shared: Path, out: Path) -> list[Path]:
    """Write the product sheets, the license and ATTRIBUTION.md into ``out``; return the sheets."""
    root = shared / "datasets" if (shared / "datasets").is_dir() else shared
    dataset = root / "hetpqa_retail"
    products = load_products(dataset / "hetPQA", set(PRODUCTS))
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for asin, (slug, title) in sorted(PRODUCTS.items()):
        path = out / f"{asin}-{slug}.md"
        path.write_text(product_markdown(asin, title, products[asin]), encoding="utf-8")
        written.append(path)
    for stale in out.glob("*.md"):
        if re.fullmatch(r"[A-Z0-9]{10}-.+\.md", stale.name) and stale not in written:
            stale.unlink()
    shutil.copyfile(dataset / LICENSE_NAME, out / LICENSE_NAME)
    manifest = (dataset / "MANIFEST.txt").read_text(encoding="utf-8")
    (out / "ATTRIBUTION.md").write_text(attribution(manifest), encoding="utf-8")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="…/shared/datasets")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    written = write_samples(args.shared, args.out)
    total = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    for path in written:
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}  {path.stat().st_size:,} B")
    print(f"{len(written)} product sheets, {total:,} B in {args.out}")


if __name__ == "__main__":
    main()
