"""Numbers computed, not guessed: for a question that asks for a calculation (a change, a growth rate,
a share, a ratio, a sum, an average), the model only picks the operation and the table cells it
needs; Python computes the result exactly (decimal arithmetic, the table's scale and unit), and the
answer shows the inputs, the formula and the result, citing the table.

    computed, trace = NumericAnswerer(generator).answer(question, hits)   # None: no calculation
    computed.text()  # "Percentage change: (12,542 − 9,317) / 9,317 × 100 = 34.61% [1].
                     #  Computed from the table (in thousands): Net inventories, 2019: 12,542 [1]; …"

The model is asked for one line such as ``percent_change(C3, C4)``; the operation is kept consistent
with the question's wording ("percentage change" is never a plain difference), two periods are put in
time order (a change is later minus earlier), a share compares figures of one period (``aligned``),
and the cells must be about what is asked. Works on any table with row labels and column headers;
cells come from the chunk's metadata or, failing that, from the passage text. The answer texts are
English only for now (the other answer texts live in ``generation.prompts``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from core.tables import SCALES, TableCell, TableCells, number_value, scale_in, table_of
from core.text_tokenize import tokenize
from core.types import Hit
from generation.backends.base import Generator

MAX_CELLS = 24
_ARITHMETIC = re.compile(
    # "the change in X", "how much did X increase", not "what changes did X disclose" (qualitative)
    r"\b(?:change(?!s)|changed|difference|differ|increase(?!s)|increased|decrease(?!s)|decreased|"
    r"grow(?:th|n)?|decline(?!s)|declined|percentage|percent|proportion|share\s+of|ratio|relative\s+to|"
    r"average|mean|sum\s+of|combined|in\s+total|how\s+much\s+(?:more|less|higher|lower))\b",
    re.I,
)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "q1": 1, "q2": 2, "q3": 3, "q4": 4}
_QUARTER = re.compile(r"\b(first|second|third|fourth)\b|\b(Q[1-4])\b", re.I)
_DURATIONS = (
    (3, re.compile(r"\bthree[\s-]+months?\b|\bquarter(?:ly)?\b|\bQ[1-4]\b|\b13[\s-]+weeks?\b", re.I)),
    (
        6,
        re.compile(
            r"\bsix[\s-]+months?\b|\bhalf[\s-]+year\b|\bfirst\s+half\b|\bH[12]\b|\b26[\s-]+weeks?\b", re.I
        ),
    ),
    (9, re.compile(r"\bnine[\s-]+months?\b|\b39[\s-]+weeks?\b", re.I)),
    (
        12,
        re.compile(
            r"\btwelve[\s-]+months?\b|\bfull[\s-]+year\b|\bfiscal\s+year\b|\byears?\s+ended\b|\bannual\b",
            re.I,
        ),
    ),
)
OPERATIONS = {
    "value": (1, 1),
    "difference": (2, 2),
    "percent_change": (2, 2),
    "ratio": (2, 2),
    "percent_of": (2, 2),
    "sum": (2, 12),
    "average": (2, 12),
}
_PLAN = re.compile(r"\b(" + "|".join(OPERATIONS) + r")\s*\(([^)]*)\)", re.I)

_SYSTEM = (
    "You choose the calculation that answers a question from numbered table cells. Do not compute it. "
    "Reply with one line: OPERATION(cells). Operations: difference(a, b) is a - b; "
    "percent_change(new, old) is (new - old) / old * 100; percent_of(part, whole) is part / whole * 100; "
    "ratio(a, b) is a / b; sum(a, b, ...); average(a, b, ...); value(a) when the question asks for one "
    "cell. Reply NONE if the cells cannot answer it.\n"
    "Example: Cells: C1: Revenue | 2019 | 120. C2: Revenue | 2018 | 100. C3: Costs | 2019 | 80. "
    "Question: What was the percentage change in revenue from 2018 to 2019? Answer: percent_change(C1, C2)"
)


@dataclass(frozen=True)
class NumberCell:
    """A table cell with its value and the passage (1-based source number) it comes from."""

    n: int
    cell: TableCell
    table: TableCells
    value: Decimal

    def label(self) -> str:
        where = f", {self.cell.column}" if self.cell.column else ""
        return f"{self.cell.row}{where}" if self.cell.row else self.cell.column


@dataclass(frozen=True)
class NumericPlan:
    """The operation and its operands, in order."""

    operation: str
    operands: tuple[NumberCell, ...]
    chosen_by: str = "model"  # model | wording (the model's reply was unusable)


@dataclass(frozen=True)
class Computation:
    """A computed result with what it was computed from."""

    plan: NumericPlan
    value: Decimal
    formula: str
    unit: str  # "%" for rates and shares, the table's currency otherwise ("" when none)
    scale: str  # the inputs' scale for sums and differences ("" for rates and ratios)

    @property
    def sources(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(c.n for c in self.plan.operands))

    def result_text(self) -> str:
        text = format_number(self.value, 2 if self.unit == "%" or self.plan.operation == "ratio" else None)
        if self.unit == "%":
            return f"{text}%"
        money = self.unit if self.unit in "$€£¥" and self.unit else ""
        scale = f" {self.scale}" if self.scale else ""
        return f"{'-' if text.startswith('-') else ''}{money}{text.lstrip('-')}{scale}"

    def text(self) -> str:
        """The answer: result with formula, then each input with its row, column and source."""
        marks = "".join(f"[{n}]" for n in self.sources)
        inputs = "; ".join(f"{c.label()}: {c.cell.text} [{c.n}]" for c in self.plan.operands)
        scale = self.plan.operands[0].table.scale
        given = f" (in {scale}s)" if scale else ""
        return (
            f"{_OPERATION_NAMES[self.plan.operation]}: {self.formula} = {self.result_text()} {marks}.\n"
            f"Computed from the table{given}: {inputs}."
        )


_OPERATION_NAMES = {
    "value": "Value",
    "difference": "Difference",
    "percent_change": "Percentage change",
    "ratio": "Ratio",
    "percent_of": "Share",
    "sum": "Sum",
    "average": "Average",
}


def format_number(value: Decimal, places: int | None = None) -> str:
    """``1234.5`` → "1,234.5"; ``places`` rounds (half up), else the value's own decimals (at most 4)."""
    if places is None:
        exponent = value.normalize().as_tuple().exponent
        places = min(max(-exponent, 0), 4) if isinstance(exponent, int) else 0
    rounded = value.quantize(Decimal(1).scaleb(-places)) if places else value.quantize(Decimal(1))
    return f"{rounded:,.{places}f}"


def years_in(text: str) -> set[str]:
    """The four-digit years a text names ("fiscal 2023", "July 1, 2023")."""
    return set(_YEAR.findall(text))


def duration_of(text: str) -> int | None:
    """How many months a text's period spans (3 for "three months ended", "Q3", "quarter"; 9 for
    "nine months"; 12 for "fiscal year"), when it names exactly one."""
    found = {months for months, pattern in _DURATIONS if pattern.search(text)}
    return found.pop() if len(found) == 1 else None


def asks_calculation(question: str) -> bool:
    """The question asks for a change, rate, share, ratio, sum or average rather than a figure."""
    return bool(_ARITHMETIC.search(question))


def wording_operation(question: str) -> str | None:
    """The operation the question's words name, when they name one."""
    q = question.lower()
    if re.search(
        r"percent(?:age)?\s+(?:change|increase|decrease|growth|decline)|growth\s+rate|grow|%\s+change", q
    ):
        return "percent_change"
    if re.search(r"proportion|share\s+of|relative\s+to|what\s+percent(?:age)?\s+(?:of|did|does|was|is)", q):
        return "percent_of"
    if re.search(r"\bratio\b", q):
        return "ratio"
    if re.search(r"\baverage\b|\bmean\b", q):
        return "average"
    if re.search(r"\bsum\s+of\b|\bcombined\b|\bin\s+total\b", q):
        return "sum"
    if re.search(
        r"change|difference|differ|increase|decrease|decline|how\s+much\s+(?:more|less|higher|lower)", q
    ):
        return "difference"
    return None


def number_cells(hits: list[Hit], rest_of_tables: bool = True) -> list[NumberCell]:
    """Every numeric cell of the passages' tables, with the scale the table (or, failing that,
    another passage of the same document) states; then (``rest_of_tables``) the cells of the rest of
    each split table (``TableCells.others``) that no passage shows, cited to the passage of their
    table."""
    out: list[NumberCell] = []
    rest: list[NumberCell] = []
    for n, hit in enumerate(hits, 1):
        table = table_of(hit)
        if table is None:
            continue
        if not table.scale:
            table = replace(table, scale=_stated_scale(hit, hits))
        for cells, into in ((table.cells, out), (table.others if rest_of_tables else (), rest)):
            for cell in cells:
                value = number_value(cell.text)
                if value is not None:
                    into.append(NumberCell(n, cell, table, _decimal(cell.text, value)))
    shown = {(hits[c.n - 1].document_id, c.cell) for c in out}
    for c in rest:
        if (hits[c.n - 1].document_id, c.cell) not in shown:
            shown.add((hits[c.n - 1].document_id, c.cell))
            out.append(c)
    return out


_TABLE_LEAD = re.compile(r"\b(?:following|below|table|tabular)\b[^.]*\(?\s*(?:\$\s*)?in\s+\w+", re.I)


def _stated_scale(hit: Hit, hits: list[Hit]) -> str:
    """The scale of a table that states none itself: said by another passage of its document, or
    by a passage that introduces a table ("The following table … (in thousands)")."""
    same = scale_in(" ".join(h.text for h in hits if h.document_id == hit.document_id))
    if same:
        return same
    leads = [m.group(0) for h in hits for m in _TABLE_LEAD.finditer(h.text)]
    return next((scale for lead in leads if (scale := scale_in(lead))), "")


def _decimal(text: str, value: float) -> Decimal:
    digits = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    try:
        exact = Decimal(digits.group().replace(",", "")) if digits else Decimal(str(value))
    except InvalidOperation:
        exact = Decimal(str(value))
    return -exact if value < 0 else exact


def _terms(text: str) -> set[str]:
    return {t for t in tokenize(text) if len(t) > 2 and not t.isdigit()}


def relevant_cells(question: str, cells: list[NumberCell], limit: int = MAX_CELLS) -> list[NumberCell]:
    """The cells most likely to be operands: rows sharing the question's words first, then columns
    naming the years it names; in table order within each rank."""
    asked = _terms(question)
    years = years_in(question)
    duration = duration_of(question)

    def rank(item: tuple[int, NumberCell]) -> tuple[float, int]:
        position, c = item
        row = _terms(c.cell.row)
        overlap = len(asked & row) / max(len(row), 1) + len(asked & row)
        period = 0.5 if years and years & years_in(c.cell.column) else 0.0
        spans = duration_of(c.cell.column)
        if duration is not None and spans is not None:
            period += 0.5 if spans == duration else -0.5
        return (-(overlap + period), position)

    ranked = [c for _, c in sorted(enumerate(cells), key=rank)]
    return ranked[:limit]


def plan_messages(question: str, cells: list[NumberCell]) -> list[dict[str, str]]:
    """Messages asking the model to pick the operation and the cells (C1, C2, ...)."""
    listed = "\n".join(
        f"C{i}: {c.cell.row} | {c.cell.column} | {c.cell.text}" for i, c in enumerate(cells, 1)
    )
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": f"Cells:\n{listed}\n\nQuestion: {question}\nAnswer:"},
    ]


def parse_plan(reply: str, cells: list[NumberCell]) -> NumericPlan | None:
    """``percent_change(C3, C4)`` → a plan over those cells; None when the reply is not one."""
    match = _PLAN.search(reply)
    if match is None:
        return None
    operation = match.group(1).lower()
    ids = [int(x) for x in re.findall(r"C\s*(\d+)", match.group(2), re.I)]
    low, high = OPERATIONS[operation]
    if not low <= len(ids) <= high or any(not 1 <= i <= len(cells) for i in ids):
        return None
    return NumericPlan(operation, tuple(cells[i - 1] for i in ids))


def _period_key(column: str) -> tuple[int, int] | None:
    years = _YEAR.findall(column)
    quarter = _QUARTER.search(column)
    order = _ORDINAL[(quarter.group(1) or quarter.group(2)).lower()] if quarter else 0
    if not years and not order:
        return None
    return (int(years[-1]) if years else 0, order)


def in_time_order(plan: NumericPlan) -> NumericPlan:
    """A change of two periods is later minus earlier, whichever order the model gave them."""
    if plan.operation not in ("difference", "percent_change") or len(plan.operands) != 2:
        return plan
    a, b = plan.operands
    ka, kb = _period_key(a.cell.column), _period_key(b.cell.column)
    if a.cell.row != b.cell.row or ka is None or kb is None or ka == kb:
        return plan
    return plan if ka > kb else NumericPlan(plan.operation, (b, a), plan.chosen_by)


def aligned(plan: NumericPlan, cells: list[NumberCell]) -> NumericPlan | None:
    """Two operands that must line up: a share or ratio compares figures of one column (period); a
    change compares one row over two columns or two rows in one column. A second operand off that
    line is replaced by its row's cell in the first operand's column; None when there is none."""
    if len(plan.operands) != 2 or plan.operation not in (
        "percent_of",
        "ratio",
        "difference",
        "percent_change",
    ):
        return plan
    a, b = plan.operands
    same_column = a.cell.column == b.cell.column
    if same_column or (a.cell.row == b.cell.row and plan.operation in ("difference", "percent_change")):
        return plan
    if a.cell.row == b.cell.row:
        return None  # a share of a row in itself, across periods
    match = next(
        (c for c in cells if c.n == a.n and c.cell.row == b.cell.row and c.cell.column == a.cell.column), None
    )
    return NumericPlan(plan.operation, (a, match), plan.chosen_by) if match is not None else None


def wording_plan(question: str, cells: list[NumberCell]) -> NumericPlan | None:
    """Without a usable reply from the model: the operation the wording names over the best row's
    cells for the periods the question names (two periods for a change, the row's figures for a sum)."""
    operation = wording_operation(question)
    if operation is None or not cells:
        return None
    years = _YEAR.findall(question)
    row = cells[0].cell.row
    same_row = [c for c in cells if c.cell.row == row and c.n == cells[0].n]
    picked = [next((c for c in same_row if y in c.cell.column), None) for y in dict.fromkeys(years)]
    operands = [c for c in picked if c is not None]
    low, high = OPERATIONS[operation]
    if operation in ("difference", "percent_change") and len(operands) == 2:
        return in_time_order(NumericPlan(operation, tuple(operands), "wording"))
    if operation in ("sum", "average") and low <= len(operands) <= high:
        return NumericPlan(operation, tuple(operands), "wording")
    return None


def compute(plan: NumericPlan) -> Computation | None:
    """The exact result of ``plan`` (None: a division by zero, or operands of different scales)."""
    values = [c.value for c in plan.operands]
    scales = {c.table.scale for c in plan.operands}
    names = [c.cell.text.strip() for c in plan.operands]
    unit = plan.operands[0].table.unit
    op = plan.operation
    try:
        if op == "value":
            value, formula = values[0], names[0]
        elif op == "difference":
            value, formula = values[0] - values[1], f"{names[0]} − {names[1]}"
        elif op == "sum":
            value, formula = sum(values, Decimal(0)), " + ".join(names)
        elif op == "average":
            value = sum(values, Decimal(0)) / len(values)
            formula = f"({' + '.join(names)}) / {len(values)}"
        elif op == "percent_change":
            value = (values[0] - values[1]) / abs(values[1]) * 100
            formula, unit = f"({names[0]} − {names[1]}) / {names[1]} × 100", "%"
        elif op == "percent_of":
            value = _in_units(plan.operands[0]) / _in_units(plan.operands[1]) * 100
            formula, unit = f"{names[0]} / {names[1]} × 100", "%"
        else:
            value = _in_units(plan.operands[0]) / _in_units(plan.operands[1])
            formula, unit = f"{names[0]} / {names[1]}", ""
    except (InvalidOperation, ZeroDivisionError):
        return None
    if op in ("difference", "sum", "average") and len(scales) > 1:
        return None  # figures in thousands and in millions are not added without saying so
    scale = next(iter(scales)) if op in ("value", "difference", "sum", "average") else ""
    return Computation(plan, value, formula, unit, scale)


def _in_units(cell: NumberCell) -> Decimal:
    return cell.value * Decimal(str(SCALES.get(cell.table.scale, 1.0)))


class NumericAnswerer:
    """Plans (model) and computes (Python) answers to calculation questions over table passages."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator

    def plan(self, question: str, hits: list[Hit]) -> tuple[NumericPlan | None, str]:
        """(the plan, the model's reply) for ``question`` over the passages' table cells."""
        if not asks_calculation(question):
            return None, ""
        cells = relevant_cells(question, number_cells(hits))
        if len(cells) < 2:
            return None, ""
        reply = self.generator.complete(plan_messages(question, cells), max_tokens=24).text
        plan = parse_plan(reply, cells)
        wording = wording_operation(question)
        if plan is not None and wording is not None and plan.operation != wording:
            low, high = OPERATIONS[wording]
            plan = NumericPlan(wording, plan.operands) if low <= len(plan.operands) <= high else None
        if plan is None or plan.operation == "value":
            plan = wording_plan(question, cells)
        plan = aligned(plan, number_cells(hits)) if plan is not None else None
        # The cells must be about what is asked: a row or column the question names; the part of a
        # share or ratio is the line item the question names ("data center" of revenue), not another.
        asked = _terms(question)
        if plan is None or not any(_terms(f"{c.cell.row} {c.cell.column}") & asked for c in plan.operands):
            return None, reply
        part = plan.operands[0]
        if (
            plan.operation in ("percent_of", "ratio")
            and not _terms(f"{part.cell.row} {part.cell.column}") & asked
        ):
            return None, reply
        return in_time_order(plan), reply

    def answer(self, question: str, hits: list[Hit]) -> tuple[Computation | None, dict[str, Any]]:
        """The computed answer (None when the question is no calculation or the tables cannot
        answer it) and a trace of what the model chose."""
        plan, reply = self.plan(question, hits)
        computed = compute(plan) if plan is not None else None
        trace = {"reply": reply, "operation": plan.operation if plan else None,
                 "chosen_by": plan.chosen_by if plan else None}  # fmt: skip
        return computed, trace
