"""Admin · audit log: who did what, when, and whether it was allowed."""

import json
from typing import Any

import streamlit as st

from app.ui.i18n import t
from app.ui.session import api_errors, client, require_role

require_role("admin")
st.title(t("Audit log"))
action = st.text_input(
    t("Only this action (e.g. auth.login, document.upload, access.denied)"), key="audit_action"
)
limit = st.number_input(t("Events"), min_value=10, max_value=1000, value=200, step=50, key="audit_limit")
events: list[dict[str, Any]] = []
with api_errors(t("Loading the audit log")):
    events = client().audit(int(limit), action.strip() or None)
if not events:
    st.info(t("No events match."))
else:
    st.dataframe(
        [
            {
                "at": str(e["at"])[:19].replace("T", " "),
                "actor": e["actor"],
                "action": e["action"],
                "target": e["target"],
                "outcome": e["outcome"],
                "detail": json.dumps(e["detail"]) if e.get("detail") else "",
            }
            for e in events
        ],
        hide_index=True,
        use_container_width=True,
    )
