"""Admin · users, roles and groups."""

from typing import Any

import streamlit as st

from app.ui.session import api_errors, client, flash, require_role

ROLES = ("employee", "agent", "admin")

me = require_role("admin")
api = client()
st.title("Users & groups")

users: list[dict[str, Any]] = []
groups: list[dict[str, Any]] = []
with api_errors("Loading users"):
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
    with st.expander("Create a user"), st.form("user_create"):
        username = st.text_input("Username")
        password = st.text_input("Initial password", type="password")
        role = st.selectbox("Role", ROLES)
        user_groups = st.multiselect("Groups", group_names)
        if st.form_submit_button("Create user", type="primary"):
            with api_errors("Creating the user"):
                api.create_user(username.strip(), password, role, user_groups)
                flash(f"Created {role} {username.strip()}.")
                st.rerun()
    if users:
        st.subheader("Edit a user")
        by_id = {u["id"]: u for u in users}
        user_id = st.selectbox(
            "User", list(by_id), format_func=lambda i: by_id[i]["username"], key="user_pick"
        )
        user = by_id[user_id]
        with st.form(f"user_edit_{user_id}"):
            role = st.selectbox(
                "Role", ROLES, index=ROLES.index(user["role"]) if user["role"] in ROLES else 0
            )
            user_groups = st.multiselect(
                "Groups", sorted(set(group_names) | set(user["groups"])), default=user["groups"]
            )
            disabled = st.checkbox("Disabled (cannot sign in)", value=user["disabled"])
            new_password = st.text_input("New password (leave empty to keep)", type="password")
            if st.form_submit_button("Save user"):
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
                    st.info("Nothing changed.")
                else:
                    with api_errors("Saving the user"):
                        api.update_user(user_id, **changes)
                        flash(f"Saved {user['username']}: {', '.join(changes)} changed.")
                        st.rerun()

with groups_tab:
    st.dataframe(
        [{"group": g["name"], "members": ", ".join(g["members"])} for g in groups],
        hide_index=True,
        use_container_width=True,
    )
    with st.form("group_create", clear_on_submit=True):
        name = st.text_input("New group")
        if st.form_submit_button("Create group"):
            with api_errors("Creating the group"):
                api.create_group(name.strip())
                flash(f"Created group {name.strip()}.")
                st.rerun()
    if group_names:
        doomed = st.selectbox("Group to delete", group_names, key="group_delete_pick")
        if st.button("Delete group", key="group_delete"):
            with api_errors("Deleting the group"):
                api.delete_group(doomed)
                flash(f"Deleted group {doomed}.")
                st.rerun()
