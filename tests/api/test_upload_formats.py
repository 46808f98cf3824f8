"""Uploads of the newer formats through the API: PowerPoint, e-mail with an attachment, legacy Word
(when LibreOffice is installed), images refused by a base with OCR off, .msg refused at the door;
the per-base OCR switch can be read and changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ingest.loaders import office_loader
from tests.api.conftest import Api
from tests.ingest.test_formats import _convert, _deck, _mail


@pytest.fixture
def admin(api: Api) -> dict[str, str]:
    return api.user("root", "admin")


def test_ocr_switch_per_base(api: Api, admin: dict[str, str]) -> None:
    made = api.client.post("/kbs", headers=admin, json={"name": "scans", "ocr": False})
    assert made.status_code == 201 and made.json()["ocr"] is False
    assert api.client.post("/kbs", headers=admin, json={"name": "plain"}).json()["ocr"] is True
    patched = api.client.patch("/kbs/scans", headers=admin, json={"ocr": True})
    assert patched.status_code == 200 and patched.json()["ocr"] is True
    employee = api.user("eve")
    assert api.client.patch("/kbs/scans", headers=employee, json={"ocr": False}).status_code == 403


def test_new_formats_upload_and_ingest(api: Api, admin: dict[str, str], tmp_path: Path) -> None:
    api.client.post("/kbs", headers=admin, json={"name": "support", "read_groups": ["everyone"]})
    mail = _mail()
    mail.add_attachment(b"sku,qty\nHX-200,1\n", maintype="text", subtype="csv", filename="order.csv")
    files = {"deck.pptx": _deck(tmp_path / "deck.pptx").read_bytes(), "refund.eml": bytes(mail)}
    if office_loader.soffice_binary() is not None:
        import docx

        word = docx.Document()
        word.add_paragraph("Legacy memo about parking permits.")
        word.save(str(tmp_path / "memo.docx"))
        files["memo.doc"] = _convert(tmp_path / "memo.docx", "doc", tmp_path).read_bytes()
    response = api.upload(admin, "support", files)
    assert response.status_code == 202, response.text
    api.run_jobs()
    job = api.client.get(f"/jobs/{response.json()['job_id']}", headers=admin).json()
    assert job["status"] == "succeeded" and job["failed"] == 0 and job["current"] is None, job
    docs = {d["source"]: d for d in api.client.get("/kbs/support/documents", headers=admin).json()}
    assert docs["deck.pptx"]["page_count"] == 3 and docs["refund.eml"]["format"] == "eml"
    assert docs["refund.eml/order.csv"]["status"] == "ready"
    if "memo.doc" in files:
        assert docs["memo.doc"]["format"] == "doc" and docs["memo.doc"]["chunk_count"] > 0
    hits = api.client.post(
        "/search", headers=admin, json={"query": "holiday extension", "kbs": ["support"], "k": 3}
    ).json()["hits"]
    assert hits[0]["source"] == "deck.pptx" and hits[0]["section"].startswith("Slide 1: Return policy")
    assert hits[0]["page"] == 1 and hits[0]["ocr_confidence"] is None


def test_image_in_a_base_without_ocr_fails_with_the_reason(
    api: Api, admin: dict[str, str], tmp_path: Path
) -> None:
    api.client.post("/kbs", headers=admin, json={"name": "noocr", "ocr": False})
    Image.new("RGB", (60, 40), "white").save(tmp_path / "scan.png")
    response = api.upload(admin, "noocr", {"scan.png": (tmp_path / "scan.png").read_bytes()})
    assert response.status_code == 202
    api.run_jobs()
    job = api.client.get(f"/jobs/{response.json()['job_id']}", headers=admin).json()
    assert job["status"] == "failed" and "OCR is turned off" in job["results"][0]["error"]


def test_msg_upload_is_refused_with_what_to_do(api: Api, admin: dict[str, str]) -> None:
    api.client.post("/kbs", headers=admin, json={"name": "mail"})
    response = api.upload(admin, "mail", {"outlook.msg": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64})
    assert response.status_code == 415 and ".eml" in response.json()["detail"]
