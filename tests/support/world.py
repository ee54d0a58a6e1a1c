"""What every test tier shares: the inventory every test service starts from, and the service as a
test reaches it (its API client, the nodes behind it, tokens of the personas)."""

from __future__ import annotations

from support.client import Api
from support.personas import DOMAIN, EVERYONE, MAIN_PROJECT, OTHER_PROJECT, PASSWORD, Persona
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.sandbox.instance import SandboxInstance
from taurus_sessions.sandbox.registration import Registration, create_user, register_instance


async def populate(inventory: Inventory, sandbox: SandboxInstance) -> tuple[Registration, Registration]:
    """The sandbox's nodes as the main instance and as the other project's instance, and every persona."""
    main = await register_instance(inventory, sandbox, project_name=MAIN_PROJECT, domain=DOMAIN)
    other = await register_instance(
        inventory, sandbox, project_name=OTHER_PROJECT, domain=DOMAIN, instance_name="other"
    )
    project_ids = {MAIN_PROJECT: main.project_id, OTHER_PROJECT: other.project_id}
    for persona in EVERYONE:
        await create_user(
            inventory, DOMAIN, persona.name, PASSWORD, project_ids[persona.project], persona.role
        )
    return main, other


class Deployment:
    """A service populated by ``populate``, reached through ``api``."""

    def __init__(self, sandbox: SandboxInstance, api: Api, main: Registration, other: Registration) -> None:
        self.sandbox = sandbox
        self.api = api
        self.main = main
        self.other = other
        self.tokens: dict[Persona, str] = {}

    def path(self, role: str = "master", registration: Registration | None = None) -> str:
        reg = registration or self.main
        node = reg.primary if role == "master" else reg.replica
        return Api.processes_path(reg.project_id, reg.instance_id, node.node_id)

    def token(self, persona: Persona) -> str:
        """A token of ``persona``, scoped to its project (issued once per deployment)."""
        if persona not in self.tokens:
            self.tokens[persona] = self.api.token(
                persona.name, PASSWORD, DOMAIN, project_name=persona.project
            )
        return self.tokens[persona]
