"""The error catalogue (contract Part C): one class per row, each knowing its wire identity.

Domain code raises these; ``api/errors.py`` is the one place that renders them. A class carries
its HTTP status, its ``error_code`` and the catalogue text in both languages; an instance may add a
specific detail, rendered as ``<catalogue text>: <detail>``.
"""

from __future__ import annotations

from typing import ClassVar

from taurus_sessions.language import Language


class ApiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "DBS.108000"
    en: ClassVar[str] = "Server failure."
    zh: ClassVar[str] = "服务器错误。"
    # Every class that declares its own ``code`` is a row of the catalogue, registered here by
    # ``__init_subclass__``: the OpenAPI error table and the tests read it, nothing lists rows by hand.
    registry: ClassVar[dict[str, type[ApiError]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            return  # an abstract family (e.g. the gateway's errors), not a row
        if cls.code in ApiError.registry:
            raise TypeError(f"error code {cls.code} is declared twice")
        ApiError.registry[cls.code] = cls

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.en)
        self.detail = detail

    def message(self, language: Language) -> str:
        text = self.zh if language is Language.ZH_CN else self.en
        return f"{text}: {self.detail}" if self.detail else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


class ParameterError(ApiError):
    status = 400
    code = "DBS.200001"
    en = "Parameter error."
    zh = "参数错误。"


class EmptyRequest(ApiError):
    status = 400
    code = "DBS.200006"
    en = "The request is null. Enter a request parameter."
    zh = "请求为空，请输入请求参数。"


class BadInstanceOrNodeId(ApiError):
    status = 400
    code = "DBS.280404"
    en = "Invalid DB instance ID or node ID format."
    zh = "实例ID或节点ID格式错误。"


class _Gateway(ApiError):
    """Gateway errors: Huawei's text is English in both languages."""

    def message(self, language: Language) -> str:
        return self.en if not self.detail else f"{self.en}{self.detail}"


class AuthenticationFailed(_Gateway):
    """APIGW.0301. The detail is one of Huawei's fixed variants, never the caller's input."""

    status = 401
    code = "APIGW.0301"
    en = "Incorrect IAM authentication information: "
    zh = en
    TOKEN_NOT_FOUND: ClassVar[str] = "x-auth-token not found"  # noqa: S105 (a message, not a secret)
    DECRYPT_FAIL: ClassVar[str] = "decrypt token fail"
    SIGNATURE_FAIL: ClassVar[str] = "verify aksk signature fail"
    AK_LOCKED: ClassVar[str] = "AK access failed to reach the limit,forbidden"

    def __init__(self, detail: str = "decrypt token fail") -> None:
        super().__init__(detail)


class TokenExpired(_Gateway):
    status = 401
    code = "APIGW.0307"
    en = "The token must be updated."
    zh = en


class SignatureExpired(_Gateway):
    status = 401
    code = "APIGW.0303"
    en = "Incorrect app authentication information: "
    zh = en

    def __init__(self, detail: str = "signature expired, X-Sdk-Date is more than 15 minutes off") -> None:
        super().__init__(detail)


class Forbidden(ApiError):
    status = 403
    code = "DBS.200010"
    en = "The DB instance ID or user ID may be null, or the operation is not authorized."
    zh = "实例ID和用户ID可能为空，或者操作越权。"


class InstanceNotFound(ApiError):
    status = 404
    code = "DBS.200002"
    en = "The DB instance does not exist."
    zh = "实例不存在或已被删除。"


class NodeNotFound(ApiError):
    status = 404
    code = "DBS.200013"
    en = "This node does not exist."
    zh = "节点不存在。"


class SessionNotFound(ApiError):
    status = 404
    code = "DBS.280405"
    en = "The session does not exist."
    zh = "会话不存在。"


class ApiNotFound(_Gateway):
    status = 404
    code = "APIGW.0101"
    en = "The API does not exist or has not been published in the environment."
    zh = en


class EntityTooLarge(_Gateway):
    status = 413
    code = "APIGW.0201"
    en = "Request entity too large."
    zh = en


class Throttled(_Gateway):
    status = 429
    code = "APIGW.0308"
    en = "The throttling threshold has been reached."
    zh = en


class NodeUnavailable(ApiError):
    status = 500
    code = "DBS.200005"
    en = "Server failure."
    zh = "服务器错误。"


class InternalError(ApiError):
    status = 500
    code = "DBS.108000"


# Extension codes (our own, contract Part E): not in Huawei's catalogue, so they live in our range.
class TaskNotFound(ApiError):
    status = 404
    code = "DBS.280406"
    en = "The kill task does not exist."
    zh = "终止任务不存在。"


class TooManyAutoKillTasks(ApiError):
    status = 400
    code = "DBS.280407"
    en = "At most 5 automatic kill tasks can run on an instance at once."
    zh = "每个实例最多同时运行5个自动Kill会话任务。"


class AutoKillSwitchedOff(ApiError):
    status = 400
    code = "DBS.280408"
    en = "Automatic kill is off for this instance; turn it on first (UpdateAutoKillProcessStatus)."
    zh = "该实例未开启自动Kill会话，请先开启（UpdateAutoKillProcessStatus）。"


class DownloadExpired(ApiError):
    status = 403
    code = "DBS.280409"
    en = "The download link has expired or is not valid; list the history again for a new one."
    zh = "下载链接已过期或无效，请重新查询历史记录获取新链接。"


# Realtime session collection (CollectRealtimeSession and its status and download): Huawei's
# reference names no codes for these cases, so they are ours too.
class RealtimeCollectionRunning(ApiError):
    status = 400
    code = "DBS.280410"
    en = "The session collection is still running; download it once its status is finished."
    zh = "实时会话收集任务仍在运行，请在任务状态为finished后下载。"


class RealtimeCollectionFailed(ApiError):
    status = 400
    code = "DBS.280411"
    en = "The session collection failed; start a new one."
    zh = "实时会话收集任务失败，请重新收集。"


class RealtimeCollectionNotFound(ApiError):
    status = 404
    code = "DBS.280412"
    en = "The session collection does not exist or its result has expired."
    zh = "实时会话收集任务不存在或其结果已过期。"


class TooManyRealtimeCollections(ApiError):
    status = 400
    code = "DBS.280413"
    en = "Too many session collections are running in this project; try again when one has finished."
    zh = "该项目正在运行的实时会话收集任务过多，请在已有任务完成后重试。"


class TooManyRealtimeResults(ApiError):
    status = 400
    code = "DBS.280414"
    en = "Too many session collection results are kept in this project; try again when older ones expire."
    zh = "该项目保存的实时会话收集结果过多，请在较早的结果过期后重试。"


class JobNotFound(ApiError):
    status = 404
    code = "DBS.280415"
    en = "The job does not exist."
    zh = "任务不存在。"


class NotPrimaryNode(ApiError):
    status = 400
    code = "DBS.280416"
    en = "Auto SQL limiting applies to the primary node only."
    zh = "自治限流只支持主节点。"


class AutoSqlLimitingNotEnabled(ApiError):
    status = 404
    code = "DBS.280417"
    en = "Auto SQL limiting is not enabled on this node."
    zh = "该节点未开启自治限流。"


class AuditUnavailable(ApiError):
    """No KILL without its record: when the trail cannot be written, nothing is killed."""

    status = 500
    code = "DBS.280500"
    en = "The audit trail cannot be written; nothing was killed."
    zh = "无法写入审计记录，未终止任何会话。"


class InventoryUnavailable(ApiError):
    """The service's own database (the inventory) does not answer."""

    status = 500
    code = "DBS.280501"
    en = "The service's inventory cannot be reached."
    zh = "服务的清单数据库无法访问。"


# -- The DAS family (contract Part G): Huawei DAS's own codes for its "Cloud DBA" operations ------
# DAS answers its parameter and database errors with HTTP 400 and codes DAS.2xxxxx. Where DAS
# publishes no code (a privilege the registered account lacks, metadata-lock instrumentation turned
# off, a server failure) the codes are ours, in a range of their own (DAS.29xxxx).
class DasError(ApiError):
    """A row of DAS's catalogue (the gateway's APIGW codes serve both families)."""

    status = 400


class DasParameterError(DasError):
    code = "DAS.200100"
    en = "The parameter is invalid."
    zh = "参数错误。"


class DasOffsetInvalid(DasError):
    code = "DAS.200103"
    en = "The offset parameter is invalid."
    zh = "offset参数错误。"


class DasLimitInvalid(DasError):
    code = "DAS.200104"
    en = "The limit parameter is invalid."
    zh = "limit参数错误。"


class DasDatastoreTypeInvalid(DasError):
    code = "DAS.200107"
    en = "The datastore_type is invalid."
    zh = "datastore_type参数错误。"


class DasDatabaseInvalid(DasError):
    code = "DAS.200108"
    en = "The database value is invalid!"
    zh = "database参数错误。"


class DasDbUserIdInvalid(DasError):
    code = "DAS.200112"
    en = "The db_user_id value is invalid!"
    zh = "db_user_id参数错误。"


class DasProjectIdInvalid(DasError):
    code = "DAS.200113"
    en = "The project_id parameter is invalid."
    zh = "project_id参数错误。"


class DasInstanceIdInvalid(DasError):
    """A malformed instance id, and (as DAS answers it) an instance this project does not have."""

    code = "DAS.200114"
    en = "The instance_id parameter is invalid."
    zh = "instance_id参数错误。"


class DasForbidden(DasError):
    """Authenticated, but the token is another project's or the role lacks the DAS action."""

    status = 403
    code = "DAS.200051"
    en = "Authentication failed."
    zh = "鉴权失败。"


class DasConnectFailed(DasError):
    """The registered account cannot log in, or the node cannot be reached or does not answer."""

    code = "DAS.220001"
    en = "Failed to connect to the database."
    zh = "连接数据库异常。"


class DasDbUserNotFound(DasError):
    code = "DAS.220003"
    en = "The database user does not exist."
    zh = "数据库用户不存在。"


class DasPrivilegeMissing(DasError):
    """The database refused a read to the registered account (its privileges decide)."""

    code = "DAS.290001"
    en = "The database user lacks a privilege this operation needs."
    zh = "数据库用户缺少此操作所需的权限。"


class DasMetadataLocksOff(DasError):
    code = "DAS.290002"
    en = "Metadata lock instrumentation is off on the node."
    zh = "节点未开启元数据锁监控。"


class DasDbUserExists(DasError):
    code = "DAS.290003"
    en = "The database user is already registered for this instance."
    zh = "该实例已注册此数据库用户。"


class DasInternalError(DasError):
    status = 500
    code = "DAS.290500"
    en = "Server failure."
    zh = "服务器错误。"


class DasAuditUnavailable(DasError):
    status = 500
    code = "DAS.290501"
    en = AuditUnavailable.en
    zh = AuditUnavailable.zh


class DasInventoryUnavailable(DasError):
    status = 500
    code = "DAS.290502"
    en = InventoryUnavailable.en
    zh = InventoryUnavailable.zh


def catalogue() -> tuple[type[ApiError], ...]:
    """Every row of the error catalogue, in the order the classes were declared."""
    return tuple(ApiError.registry.values())


class IamError(Exception):
    """Errors of the IAM-compatible endpoints, rendered in Keystone's shape, not the DBS one."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message

    @classmethod
    def unauthorized(cls, message: str = "The request you have made requires authentication.") -> IamError:
        return cls(401, "Unauthorized", message)

    @classmethod
    def bad_request(cls, message: str) -> IamError:
        return cls(400, "Bad Request", message)

    @classmethod
    def forbidden(cls, message: str) -> IamError:
        return cls(403, "Forbidden", message)

    @classmethod
    def not_found(cls, message: str) -> IamError:
        return cls(404, "Not Found", message)

    @classmethod
    def throttled(cls) -> IamError:
        return cls(429, "Too Many Requests", Throttled.en)
