"""Projects, instances and nodes: what exists, and how to reach each node."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions import ids
from taurus_sessions.inventory.models import DbUser, Instance, Node, Project
from taurus_sessions.inventory.secrets import SecretBox

NODE_ROLES = ("master", "readreplica")


class NotFound(LookupError):
    """A named inventory object does not exist (the CLI turns this into a clear message)."""


class Conflict(ValueError):
    """The object exists already, or the request contradicts the inventory."""


@dataclass(frozen=True, slots=True)
class NodeTarget:
    """Everything needed to reach one node, with the admin password opened (masked in repr)."""

    project_id: str
    instance_id: str
    node_id: str
    role: str
    host: str
    port: int
    admin_user: str
    admin_password: SecretStr
    extra_system_accounts: tuple[str, ...]
    cpu_source: str | None = None  # see ``Node.cpu_source``


class InstanceStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    # -- projects ---------------------------------------------------------------------------
    async def create_project(self, name: str, domain_name: str, project_id: str | None = None) -> Project:
        project = Project(id=ids.check_project_id(project_id or ids.new_project_id()), name=name)
        project.domain_name = domain_name
        async with self._sessions.begin() as session:
            if await session.scalar(select(Project).where(Project.name == name)) is not None:
                raise Conflict(f"a project named {name!r} exists already")
            if await session.get(Project, project.id) is not None:
                raise Conflict(f"project {project.id} exists already")
            session.add(project)
        return project

    async def get_project(self, project_id: str) -> Project | None:
        async with self._sessions() as session:
            return await session.get(Project, project_id)

    async def find_project(self, id_or_name: str) -> Project:
        async with self._sessions() as session:
            project = await session.get(Project, id_or_name)
            project = project or await session.scalar(select(Project).where(Project.name == id_or_name))
        if project is None:
            raise NotFound(f"no project {id_or_name!r}")
        return project

    async def list_projects(self, name: str | None = None) -> Sequence[Project]:
        query = select(Project).order_by(Project.name)
        if name is not None:
            query = query.where(Project.name == name)
        async with self._sessions() as session:
            return (await session.scalars(query)).all()

    # -- instances --------------------------------------------------------------------------
    async def create_instance(
        self,
        project_id: str,
        name: str,
        extra_system_accounts: Sequence[str] = (),
        instance_id: str | None = None,
    ) -> Instance:
        instance = Instance(
            id=ids.check_instance_id(instance_id or ids.new_instance_id()),
            project_id=project_id,
            name=name,
            extra_system_accounts=list(extra_system_accounts),
        )
        async with self._sessions.begin() as session:
            if await session.get(Project, project_id) is None:
                raise NotFound(f"no project {project_id}")
            if await session.get(Instance, instance.id) is not None:
                raise Conflict(f"instance {instance.id} exists already")
            session.add(instance)
        return instance

    async def get_instance(self, project_id: str, instance_id: str) -> Instance | None:
        """The instance only if it belongs to this project (another project's is 'not found')."""
        async with self._sessions() as session:
            instance = await session.get(Instance, instance_id)
        return instance if instance is not None and instance.project_id == project_id else None

    async def find_instance(self, instance_id: str) -> Instance | None:
        """An instance by id alone (the operator's CLI; callers of the API go through a project)."""
        async with self._sessions() as session:
            return await session.get(Instance, instance_id)

    async def list_instances(self, project_id: str | None = None) -> Sequence[Instance]:
        query = select(Instance).order_by(Instance.created_at)
        if project_id is not None:
            query = query.where(Instance.project_id == project_id)
        async with self._sessions() as session:
            return (await session.scalars(query)).all()

    async def delete_instance(self, instance_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(Node).where(Node.instance_id == instance_id))
            await session.execute(delete(DbUser).where(DbUser.instance_id == instance_id))
            result = await session.execute(delete(Instance).where(Instance.id == instance_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no instance {instance_id}")

    # -- nodes ------------------------------------------------------------------------------
    async def add_node(
        self,
        instance_id: str,
        *,
        name: str,
        role: str,
        host: str,
        port: int,
        admin_user: str,
        admin_password: SecretStr,
        node_id: str | None = None,
        cpu_source: str | None = None,
    ) -> Node:
        if role not in NODE_ROLES:
            raise Conflict(f"role must be one of {', '.join(NODE_ROLES)}")
        node = Node(
            id=ids.check_node_id(node_id or ids.new_node_id()),
            instance_id=instance_id,
            name=name,
            role=role,
            host=host,
            port=port,
            admin_user=admin_user,
            admin_password_enc=self._box.seal(admin_password.get_secret_value()),
            cpu_source=cpu_source,
        )
        async with self._sessions.begin() as session:
            if await session.get(Instance, instance_id) is None:
                raise NotFound(f"no instance {instance_id}")
            if await session.get(Node, node.id) is not None:
                raise Conflict(f"node {node.id} exists already")
            session.add(node)
        return node

    async def list_nodes(self, instance_id: str) -> Sequence[Node]:
        query = select(Node).where(Node.instance_id == instance_id).order_by(Node.role, Node.name)
        async with self._sessions() as session:
            return (await session.scalars(query)).all()

    async def instance_node_ids(self, project_id: str, instance_id: str) -> list[str] | None:
        """The ids of an instance's nodes, its primary first; None when no such instance."""
        async with self._sessions() as session:
            instance = await session.get(Instance, instance_id)
            if instance is None or instance.project_id != project_id:
                return None
            query = select(Node.id).where(Node.instance_id == instance_id).order_by(Node.role, Node.name)
            return list((await session.scalars(query)).all())

    async def set_auto_kill(self, project_id: str, instance_id: str, enabled: bool) -> bool:
        """Turn the instance's automatic-kill switch; False when no such instance."""
        async with self._sessions.begin() as session:
            instance = await session.get(Instance, instance_id)
            if instance is None or instance.project_id != project_id:
                return False
            instance.auto_kill_enabled = enabled
            return True

    async def set_cpu_source(self, node_id: str, cpu_source: str | None) -> None:
        async with self._sessions.begin() as session:
            node = await session.get(Node, node_id)
            if node is None:
                raise NotFound(f"no node {node_id}")
            node.cpu_source = cpu_source

    async def remove_node(self, node_id: str) -> None:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(Node).where(Node.id == node_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no node {node_id}")

    async def node_target(
        self, project_id: str, instance_id: str, node_id: str
    ) -> NodeTarget | Instance | None:
        """The node's target; the Instance alone if the node is missing; None if the instance is."""
        async with self._sessions() as session:
            instance = await session.get(Instance, instance_id)
            if instance is None or instance.project_id != project_id:
                return None
            node = await session.get(Node, node_id)
        if node is None or node.instance_id != instance_id:
            return instance
        return NodeTarget(
            project_id=project_id,
            instance_id=instance_id,
            node_id=node.id,
            role=node.role,
            host=node.host,
            port=node.port,
            admin_user=node.admin_user,
            admin_password=self._box.open(node.admin_password_enc),
            extra_system_accounts=tuple(str(a) for a in instance.extra_system_accounts),
            cpu_source=node.cpu_source,
        )
