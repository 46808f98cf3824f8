"""Document facts over HTTP: read at upload, shown, corrected by admins only (audited), kept on
re-ingest, and used by routing at once."""

from __future__ import annotations

from pathlib import Path

from core.types import Principal
from retrieval.filters import SearchFilters
from tests.api.conftest import Api

REPO = Path(__file__).resolve().parents[2]
SHEET = (REPO / "samples" / "retail" / "B008DJDUPM-mac-sports-beachcomber-wagon.md").read_bytes()


def _upload(api: Api, admin: dict[str, str]) -> str:
    assert (
        api.client.post(
            "/kbs", headers=admin, json={"name": "shop", "scenario": "retail", "read_groups": ["everyone"]}
        ).status_code
        == 201
    )
    assert api.upload(admin, "shop", {"wagon.md": SHEET}).status_code == 202
    api.run_jobs()
    return str(api.client.get("/kbs/shop/documents", headers=admin).json()[0]["id"])


def test_facts_are_shown_edited_by_admins_audited_and_kept(api: Api) -> None:
    admin = api.user("root", "admin")
    employee = api.user("emma")
    doc_id = _upload(api, admin)
    listed = api.client.get("/kbs/shop/documents", headers=employee).json()[0]
    assert listed["facts"]["product_id"] == "B008DJDUPM"

    read = api.client.get(f"/documents/{doc_id}/facts", headers=admin).json()
    assert read["facts"]["product_name"] == "Mac Sports Beachcomber MacWagon folding wagon"
    assert read["sources"]["product_id"] == "text"
    assert api.client.get(f"/documents/{doc_id}/facts", headers=employee).status_code == 403
    denied = api.client.patch(f"/documents/{doc_id}/facts", headers=employee, json={"brand": "x"})
    assert denied.status_code == 403

    patched = api.client.patch(
        f"/documents/{doc_id}/facts", headers=admin, json={"brand": "Mac Sports", "category": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["facts"]["brand"] == "Mac Sports" and "category" not in patched.json()["facts"]
    assert patched.json()["sources"]["brand"] == "admin"
    events = api.services.audit.list(action="document.facts")
    assert events[0]["actor"] == "root" and events[0]["detail"]["after"]["brand"] == "Mac Sports"

    for bad in (
        {"fiscal_year": "soon"},
        {"period_end": "July 1"},
        {"colour": "red"},
        {"fiscal_period": "Q5"},
    ):
        response = api.client.patch(f"/documents/{doc_id}/facts", headers=admin, json=bad)
        assert response.status_code in (400, 422), (bad, response.text)
    assert api.client.patch("/documents/nope/facts", headers=admin, json={"brand": "x"}).status_code == 404

    # Routing sees the edit at once: the brand now names this product.
    router = api.services.ctx.router
    route = router.route(
        "Does the Mac Sports one fold flat?", SearchFilters(kbs=("shop",)), Principal("a", admin=True)
    )
    assert route.products == ("B008DJDUPM",)

    # Re-ingesting the changed file keeps the admin's facts.
    assert api.upload(admin, "shop", {"wagon.md": SHEET + b"\n\nNew: cup holders.\n"}).status_code == 202
    api.run_jobs()
    again = api.client.get(f"/documents/{doc_id}/facts", headers=admin).json()["facts"]
    assert again["brand"] == "Mac Sports" and "category" not in again and again["product_id"] == "B008DJDUPM"
