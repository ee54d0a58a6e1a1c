"""Instances and nodes (Huawei's ListGaussMySqlInstances / ShowGaussMySqlInstanceInfo, the fields
this service knows), and the caller's permissions (extension)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from taurus_sessions import ids
from taurus_sessions.api import openapi
from taurus_sessions.api.openapi import InstanceId, ProjectId
from taurus_sessions.api.requests import authenticated, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.inventory.models import Node
from taurus_sessions.services.iam import domain_id
from taurus_sessions.services.instances import InstanceView

router = APIRouter(tags=["instances"])

# Huawei calls a read replica node "slave" in these APIs; "role" carries this service's own name.
_NODE_TYPE = {"master": "master", "readreplica": "slave"}


def node_body(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "name": node.name,
        "type": _NODE_TYPE.get(node.role, node.role),
        "role": node.role,
        "status": "ACTIVE",
        "port": node.port,
        "private_read_ips": [node.host],
    }


def instance_body(view: InstanceView) -> dict[str, Any]:
    instance = view.instance
    return {
        "id": instance.id,
        "name": instance.name,
        "project_id": instance.project_id,
        "status": "normal",
        "type": "Cluster",
        "node_count": len(view.nodes),
        "created": instance.created_at.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "nodes": [node_body(node) for node in view.nodes],
    }


@router.get(
    "/v3/{project_id}/instances",
    operation_id="ListGaussMySqlInstances",
    summary="Instances of the project, with their nodes",
    responses=openapi.error_responses(),
)
async def list_gauss_my_sql_instances(
    request: Request,
    project_id: ProjectId,
    caller: Annotated[Caller, Depends(authenticated)],
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> Response:
    ids.check_project_id(project_id)
    views = await runtime_of(request).instances.list_instances(caller, project_id)
    page = views[offset : offset + limit]
    return JsonResponse({"instances": [instance_body(v) for v in page], "total_count": len(views)})


@router.get(
    "/v3/{project_id}/instances/{instance_id}",
    operation_id="ShowGaussMySqlInstanceInfo",
    summary="One instance and its nodes (type master or slave)",
    responses=openapi.error_responses(),
)
async def show_gauss_my_sql_instance_info(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
) -> Response:
    ids.check_project_id(project_id)
    ids.check_instance_id(instance_id)
    view = await runtime_of(request).instances.show_instance(caller, project_id, instance_id)
    return JsonResponse({"instance": instance_body(view)})


@router.get(
    "/v3/{project_id}/permissions",
    operation_id="ShowPermissions",
    summary="(Extension) Which named actions the caller may perform in this project",
    responses=openapi.error_responses(),
)
async def show_permissions(
    request: Request, project_id: ProjectId, caller: Annotated[Caller, Depends(authenticated)]
) -> Response:
    ids.check_project_id(project_id)
    actions = await runtime_of(request).instances.permissions(caller, project_id)
    return JsonResponse(
        {
            "user": {
                "id": caller.user_id,
                "name": caller.user_name,
                "domain": {"id": domain_id(caller.domain_name), "name": caller.domain_name},
            },
            "project_id": project_id,
            "actions": actions,
        }
    )
