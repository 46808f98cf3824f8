"""Admin · users, roles and groups."""

from typing import Any

import streamlit as st

from app.ui.i18n import t
from app.ui.session import api_errors, client, flash, require_role

ROLES = ("employee", "agent", "admin")

me = require_role("admin")
api = client()
st.title(t("Users & groups"))

users: list[dict[str, Any]] = []
groups: list[dict[str, Any]] = []
with api_errors(t("Loading users")):
    users = api.users()
    groups = api.groups()
group_names = [g["name"] for g in groups]

users_tab, groups_tab = st.tabs(["Users", "Groups"])
with users_tab:
    st.dataframe(
        [
            {
                "username": u["username"],
                "role": u["role"],
                "groups": ", ".join(u["groups"]),
                "disabled": u["disabled"],
                "created": str(u["created_at"])[:19].replace("T", " "),
            }
            for u in users
        ],
        hide_index=True,
        use_container_width=True,
    )
    with st.expander(t("Create a user")), st.form("user_create"):
        username = st.text_input(t("Username"))
        password = st.text_input(t("Initial password"), type="password")
        role = st.selectbox(t("Role"), ROLES)
        user_groups = st.multiselect(t("Groups"), group_names)
        if st.form_submit_button(t("Create user"), type="primary"):
            with api_errors(t("Creating the user")):
                api.create_user(username.strip(), password, role, user_groups)
                flash(t("Created {role} {name}.", role=role, name=username.strip()))
                st.rerun()
    if users:
        st.subheader(t("Edit a user"))
        by_id = {u["id"]: u for u in users}
        user_id = st.selectbox(
            t("User"), list(by_id), format_func=lambda i: by_id[i]["username"], key="user_pick"
        )
        user = by_id[user_id]
        with st.form(f"user_edit_{user_id}"):
            role = st.selectbox(
                t("Role"), ROLES, index=ROLES.index(user["role"]) if user["role"] in ROLES else 0
            )
            user_groups = st.multiselect(
                t("Groups"), sorted(set(group_names) | set(user["groups"])), default=user["groups"]
            )
            disabled = st.checkbox(t("Disabled (cannot sign in)"), value=user["disabled"])
            new_password = st.text_input(t("New password (leave empty to keep)"), type="password")
            if st.form_submit_button(t("Save user")):
                changes: dict[str, Any] = {}
                if role != user["role"]:
                    changes["role"] = role
                if sorted(user_groups) != sorted(user["groups"]):
                    changes["groups"] = user_groups
                if disabled != user["disabled"]:
                    changes["disabled"] = disabled
                if new_password:
                    changes["password"] = new_password
                if not changes:
                    st.info(t("Nothing changed."))
                else:
                    with api_errors(t("Saving the user")):
                        api.update_user(user_id, **changes)
                        flash(
                            t(
                                "Saved {name}: {changes} changed.",
                                name=user["username"],
                                changes=", ".join(changes),
                            )
                        )
                        st.rerun()

with groups_tab:
    st.dataframe(
        [{"group": g["name"], "members": ", ".join(g["members"])} for g in groups],
        hide_index=True,
        use_container_width=True,
    )
    with st.form("group_create", clear_on_submit=True):
        name = st.text_input(t("New group"))
        if st.form_submit_button(t("Create group")):
            with api_errors(t("Creating the group")):
                api.create_group(name.strip())
                flash(t("Created group {name}.", name=name.strip()))
                st.rerun()
    if group_names:
        doomed = st.selectbox(t("Group to delete"), group_names, key="group_delete_pick")
        if st.button(t("Delete group"), key="group_delete"):
            with api_errors(t("Deleting the group")):
                api.delete_group(doomed)
                flash(t("Deleted group {name}.", name=doomed))
                st.rerun()
