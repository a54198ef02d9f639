"""The tables, security roles and environment access knobs of the :class:`~.simulator.Simulator` API, as mixins.

:class:`TableScopeApi` is shared with the on-premises simulator (its scope is an organization instead of an
environment URL)::

    sim.add_table(env.url, "new_widget", columns=[("new_name", "String"), ("new_size", "Integer")],
                  rows=[{"new_name": "Sprocket", "new_size": 3}])       # prvReadnew_widget, entity set new_widgets
    sim.define_role(env.url, "Sales reader", {"prvReadAccount": "Global", "prvReadContact": "Local"})
    sim.set_roles(env.url, app_user, "Sales reader")    # replaces the default role (roles.DEFAULT_ROLE)
    sim.add_team(env.url, "Sales", members=[app_user], roles=["Sales reader"])
    sim.set_endless_paging(env.url, "accounts")          # an @odata.nextLink on every page, forever
    sim.block_app(env.url, app.client_id)                # app access control: user tokens of this app get 403
    sim.set_ip_firewall(env.url, allowed=["10.0.0.0/8"], allow_application_users=False)
"""

from __future__ import annotations

import ipaddress

from .access_control import Firewall
from .roles import Role, Team
from .state import Directory, environment_key
from .table_api import TableApi
from .tables import Column, Table


def _user_id(principal) -> str:
    """A systemuserid from an application user, a Dataverse or CRM user, or the id itself."""
    return str(getattr(principal, "user_id", principal))


def _column(spec) -> Column:
    if isinstance(spec, Column):
        return spec
    if isinstance(spec, dict):
        return Column(**spec)
    return Column(*spec)


class TableScopeApi:
    def _table_scope(self, scope) -> tuple[str, TableApi]:
        """The key of the environment (or organization) and the endpoints that serve it."""
        raise NotImplementedError

    # --- tables and rows ------------------------------------------------------------------------

    def add_table(
        self,
        scope,
        logical_name: str,
        columns=(),
        rows=(),
        entity_set_name: str | None = None,
        display_name: str | None = None,
        schema_name: str | None = None,
        primary_name: str = "",
        is_private: bool = False,
        object_type_code: int | None = None,
    ) -> Table:
        """A table with columns (``Column``, ``(name, type)``, ``(name, type, display, target)`` or dicts) and rows.

        Defaults as Dataverse makes them: entity set ``{logical_name}s``, SchemaName = logical name (so the read
        privilege is ``prvRead{schema}``), object type code from 10000, custom when the name has a prefix."""
        key, api = self._table_scope(scope)
        tables = api.catalogue.tables(key)
        logical_name = logical_name.lower()
        cols = [_column(spec) for spec in columns]
        table = Table(
            logical_name,
            entity_set_name or f"{logical_name}s",
            display_name or logical_name,
            object_type_code or 10000 + sum(t.is_custom for t in tables.values()),
            schema_name=schema_name or logical_name,
            primary_name=primary_name or (cols[0].logical_name if cols else ""),
            is_private=is_private,
            is_custom="_" in logical_name,
            columns={c.logical_name: c for c in cols},
        )
        tables[logical_name] = table
        for row in rows:
            table.add_row(row)
        return table

    def add_rows(self, scope, logical_name: str, *rows: dict) -> list[dict]:
        """Append rows (a dict by column; lookups ``(guid, name)``); returns them with ids and versions."""
        return [self.table(scope, logical_name).add_row(row) for row in rows]

    def table(self, scope, logical_name: str) -> Table:
        key, api = self._table_scope(scope)
        found = api.catalogue.find(key, logical_name)
        if found is None:
            raise KeyError(f"no table {logical_name!r}; add_table() first")
        return found

    def set_endless_paging(self, scope, entity_set: str, endless: bool = True) -> None:
        """Every page of ``GET {entity_set}`` carries an ``@odata.nextLink`` (rows repeat): a fault, to test a
        client's page bound (Dataverse itself stops at the last row)."""
        key, api = self._table_scope(scope)
        (api.endless.add if endless else api.endless.discard)((key, entity_set))

    # --- security roles ------------------------------------------------------------------------

    def define_role(self, scope, name: str, privileges) -> Role:
        """A security role: ``{"prvReadAccount": "Global", ...}`` (Basic, Local, Deep or Global), or a list of
        privilege names at Global depth."""
        key, api = self._table_scope(scope)
        if not isinstance(privileges, dict):
            privileges = dict.fromkeys(privileges, "Global")
        return api.security.define_role(key, name, privileges)

    def set_roles(self, scope, principal, *roles: str) -> None:
        """The roles assigned to the principal, replacing what it had (the default role included)."""
        key, api = self._table_scope(scope)
        api.security.set_roles(key, _user_id(principal), roles)

    def assign_roles(self, scope, principal, *roles: str) -> None:
        """Add roles to those the principal has (by default :data:`.roles.DEFAULT_ROLE`)."""
        key, api = self._table_scope(scope)
        current = api.security.roles_of(key, _user_id(principal))
        api.security.set_roles(key, _user_id(principal), tuple(dict.fromkeys([*current, *roles])))

    def roles_of(self, scope, principal) -> list[str]:
        key, api = self._table_scope(scope)
        return api.security.roles_of(key, _user_id(principal))

    def add_team(self, scope, name: str, members=(), roles=()) -> Team:
        """An owner team whose members inherit its roles' privileges."""
        key, api = self._table_scope(scope)
        return api.security.add_team(key, name, {_user_id(m) for m in members}, tuple(roles))


class AccessApi(TableScopeApi):
    directory: Directory

    def _table_scope(self, scope) -> tuple[str, TableApi]:
        env = self.directory.find_environment(getattr(scope, "url", scope))
        if env is None:
            raise KeyError(f"no environment {scope!r}; add_environment() first")
        return environment_key(env.host), self.dataverse.tables

    def block_app(self, env_url, client_id, blocked: bool = True) -> None:
        """App access control: the environment refuses *user* tokens issued to this app with 403 ``0x80095ffc``
        "Access to the Dataverse API is restricted for this application ID." (app-only tokens pass, as
        documented; see :mod:`.access_control`)."""
        key, _ = self._table_scope(env_url)
        self.dataverse.access.block_app(key, str(client_id), blocked)

    def set_ip_firewall(
        self,
        env_url,
        allowed=(),
        allow_application_users: bool = True,
        audit_only: bool = False,
        reverse_proxies=(),
    ) -> None:
        """The environment's IP firewall: callers outside ``allowed`` (CIDR ranges) get 403 ``0x80095ffe``.
        ``allowed=None`` turns it off. Application users pass unless ``allow_application_users=False`` (the
        portal's default is on); requests from ``reverse_proxies`` are judged by their ``Forwarded: for=``."""
        key, _ = self._table_scope(env_url)
        if allowed is None:
            self.dataverse.access.set_firewall(key, None)
            return
        firewall = Firewall(
            [ipaddress.ip_network(a, strict=False) for a in allowed],
            allow_application_users,
            audit_only,
            [ipaddress.ip_network(p, strict=False) for p in reverse_proxies],
        )
        self.dataverse.access.set_firewall(key, firewall)
