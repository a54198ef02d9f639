"""Security roles, teams and who holds which privilege, per environment (or on-premises organization).

Dataverse gives a principal the privileges of the roles assigned to it and of the roles of every team
it is a member of (Microsoft's "How access to a record is determined": privilege check first). Depths
are the ``PrivilegeDepth`` names: Basic (user), Local (business unit), Deep (parent: child business
units), Global (organization). A principal without roles assigned by the test holds
:data:`DEFAULT_ROLE`, which reads every public table of the default catalogue, so that an application
user or a Dataverse user behaves as before roles existed; ``set_roles(env, principal)`` with no roles
takes even that away.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .tables import Table, stable_guid

DEPTHS = ("Basic", "Local", "Deep", "Global")
DEFAULT_ROLE = "Gathr Reader"
DEFAULT_READS = (
    "prvReadAccount",
    "prvReadContact",
    "prvReadLead",
    "prvReadOpportunity",
    "prvReadIncident",
    "prvReadUser",
    "prvReadBusinessUnit",
    "prvReadTeam",
)


def privilege_id(name: str) -> str:
    return stable_guid("privilege", name)


@dataclass
class Role:
    name: str
    privileges: dict[str, str]  # privilege name -> depth
    role_id: str = ""

    def __post_init__(self) -> None:
        for name, depth in self.privileges.items():
            if depth not in DEPTHS:
                raise ValueError(f"{name}: depth {depth!r} is not one of {DEPTHS}")
        self.role_id = self.role_id or stable_guid("role", self.name)


@dataclass
class Team:
    name: str
    members: set[str]  # systemuserids
    roles: list[str]
    team_id: str = field(default="")

    def __post_init__(self) -> None:
        self.team_id = self.team_id or stable_guid("team", self.name)


@dataclass
class Grant:
    """One privilege a principal holds, and through which role (RolePrivilege in RetrieveUserPrivileges)."""

    name: str
    depth: str
    role: str
    via_team: bool = False


@dataclass
class EnvironmentSecurity:
    roles: dict[str, Role] = field(default_factory=dict)
    assigned: dict[str, list[str]] = field(default_factory=dict)  # systemuserid -> role names
    teams: dict[str, Team] = field(default_factory=dict)


def _default_roles() -> dict[str, Role]:
    return {DEFAULT_ROLE: Role(DEFAULT_ROLE, dict.fromkeys(DEFAULT_READS, "Global"))}


class Security:
    """Every environment's roles, assignments and teams; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._envs: dict[str, EnvironmentSecurity] = {}

    def _env(self, env_key: str) -> EnvironmentSecurity:
        if env_key not in self._envs:
            self._envs[env_key] = EnvironmentSecurity(roles=_default_roles())
        return self._envs[env_key]

    def define_role(self, env_key: str, name: str, privileges: dict[str, str]) -> Role:
        role = Role(name, dict(privileges))
        with self._lock:
            self._env(env_key).roles[name] = role
        return role

    def set_roles(self, env_key: str, user_id: str, roles: tuple[str, ...]) -> None:
        with self._lock:
            env = self._env(env_key)
            missing = [r for r in roles if r not in env.roles]
            if missing:
                raise KeyError(f"no role {missing[0]!r}; define_role() first")
            env.assigned[user_id.lower()] = list(roles)

    def roles_of(self, env_key: str, user_id: str) -> list[str]:
        with self._lock:
            return list(self._env(env_key).assigned.get(user_id.lower(), [DEFAULT_ROLE]))

    def add_team(self, env_key: str, name: str, members: set[str], roles: tuple[str, ...]) -> Team:
        team = Team(name, {m.lower() for m in members}, list(roles))
        with self._lock:
            env = self._env(env_key)
            missing = [r for r in roles if r not in env.roles]
            if missing:
                raise KeyError(f"no role {missing[0]!r}; define_role() first")
            env.teams[name] = team
        return team

    def grants(self, env_key: str, user_id: str) -> list[Grant]:
        """Every privilege the user holds directly or through a team, one entry per role that gives it."""
        user_id = user_id.lower()
        with self._lock:
            env = self._env(env_key)
            direct = list(env.assigned.get(user_id, [DEFAULT_ROLE]))
            teams = [r for team in env.teams.values() if user_id in team.members for r in team.roles]
            return [
                Grant(privilege, depth, role, via_team)
                for roles, via_team in ((direct, False), (teams, True))
                for role in dict.fromkeys(roles)
                for privilege, depth in env.roles[role].privileges.items()
            ]

    def role_count(self, env_key: str, user_id: str) -> int:
        """The roles assigned to the user itself (what Dataverse's ``roleCount`` reports)."""
        return len(self.roles_of(env_key, user_id))

    def can_read(self, env_key: str, user_id: str, table: Table) -> bool:
        return any(grant.name == table.read_privilege for grant in self.grants(env_key, user_id))

    def role_id(self, env_key: str, name: str) -> str:
        with self._lock:
            return self._env(env_key).roles[name].role_id
