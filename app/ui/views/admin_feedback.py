"""Admin · feedback review: what users rated up or down, with their comments and the cited sources."""

from typing import Any

import streamlit as st

from app.ui.i18n import t
from app.ui.render import escape_md, location
from app.ui.session import api_errors, client, require_role

require_role("admin")
api = client()
st.title(t("Feedback"))

items: list[dict[str, Any]] = []
with api_errors(t("Loading feedback")):
    items = api.feedback(limit=200)
if not items:
    st.info(t("No feedback yet. Users rate answers with 👍 / 👎 on the Chat page."))
    st.stop()

ups = sum(1 for f in items if f["rating"] == "up")
c1, c2, c3 = st.columns(3)
c1.metric("Ratings", len(items))
c2.metric("👍 Helpful", ups)
c3.metric("👎 Not helpful", len(items) - ups)

show = st.segmented_control(
    "Show", ["all", "down", "up"], default="down" if ups < len(items) else "all", key="fb_filter"
)
shown = [f for f in items if show in (None, "all") or f["rating"] == show]
st.dataframe(
    [
        {
            "when": str(f["created_at"])[:19].replace("T", " "),
            "rating": "👍" if f["rating"] == "up" else "👎",
            "user": f["username"],
            "question": f["question"],
            "comment": f["comment"],
        }
        for f in shown
    ],
    hide_index=True,
    use_container_width=True,
)
for f in shown[:50]:
    icon = "👍" if f["rating"] == "up" else "👎"
    with st.expander(escape_md(f"{icon} {f['username']}: {f['question'][:100]}")):
        if f["comment"]:
            st.info(escape_md(f["comment"]))
        st.markdown(t("**Answer**"))
        st.markdown(escape_md(f["answer"]))
        for c in f.get("citations") or []:
            where = location(c)
            st.caption(
                escape_md(f"[{c['n']}] {c.get('title') or c['source']}" + (f" — {where}" if where else ""))
            )
