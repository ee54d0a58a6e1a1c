"""Who the tests act as. Every test inventory holds these users (see ``world.populate``); a test names
the part a user plays, ``READONLY`` rather than a bare user name, and the definition says what that
part may do."""

from __future__ import annotations

from dataclasses import dataclass

DOMAIN = "acme"
PASSWORD = "correct horse battery staple"  # every persona's; long enough for the password rules
MAIN_PROJECT = "cn-north-4"  # the project of the main instance
OTHER_PROJECT = "cn-south-1"  # another project, with its own instance on the same nodes


@dataclass(frozen=True)
class Persona:
    name: str  # the user name to sign in with, in DOMAIN
    role: str  # a built-in role (auth/policy.BUILTIN_ROLES)
    project: str  # the project the role is granted in (and the only one)
    may: str  # what the role lets the user do there, in words

    @property
    def display_name(self) -> str:
        """How the audit trail and kill tasks name the user."""
        return f"{DOMAIN}/{self.name}"


ADMIN = Persona("alice", "admin", MAIN_PROJECT, "everything, kill tasks and the audit trail included")
READONLY = Persona("rita", "readonly", MAIN_PROJECT, "list and inspect sessions and kill tasks; never kill")
OPERATOR = Persona(
    "olga", "operator", MAIN_PROJECT, "list, inspect and kill sessions; run kill tasks; read the trail"
)
OUTSIDER = Persona("otto", "admin", OTHER_PROJECT, "everything, but in the other project only")
AUDITOR = Persona("audrey", "auditor", MAIN_PROJECT, "read the audit trail, nothing else")

EVERYONE = (ADMIN, READONLY, OPERATOR, OUTSIDER, AUDITOR)
