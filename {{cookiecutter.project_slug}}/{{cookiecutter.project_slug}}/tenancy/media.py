"""Uploaded files, stored and served per tenant.

`TenantMediaStorage` (settings.STORAGES["default"]) is django-tenants' TenantFileSystemStorage: a file saved
while the connection is in a tenant's schema goes under MEDIA_ROOT/<schema name>/
(settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"). Its URLs are `/media/<name>` on the tenant's own host,
without the schema name: the host already names the tenant. In path routing, during a request for
`/<prefix>/<slug>/...`, they are `/<prefix>/<slug>/media/<name>` (the script prefix names the tenant).

`tenant_media` serves those URLs on tenant hosts, to the tenant's members only, and only files inside the
current tenant's folder: `..`, absolute paths, encoded traversal, symbolic links leading out of the folder
and other tenants' files all get 404. `tenant_media_retire` moves a dropped tenant's folder out of the way;
`tenant_media_bytes` measures it (the plan's media storage limit, billing).
"""

from __future__ import annotations

import mimetypes
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.urls import get_script_prefix
from django.views.decorators.http import require_safe
from django_tenants.files.storage import TenantFileSystemStorage
from django_tenants.utils import get_public_schema_name

# Seconds a member's browser may reuse a media file without asking again.
MEDIA_MAX_AGE = 60 * 60


class TenantMediaStorage(TenantFileSystemStorage):
    """Files under MEDIA_ROOT/<current schema>/, served as `/media/<name>` on the tenant's host (tenant_media), or
    in path routing as `<script prefix>media/<name>` (`/<prefix>/<slug>/media/<name>` in a tenant's request)."""

    @property  # type: ignore[override]  # not cached: follows MEDIA_ROOT when tests override it
    def relative_media_root(self) -> str:
        relative = getattr(settings, "MULTITENANT_RELATIVE_MEDIA_ROOT", "%s")
        return os.path.join(settings.MEDIA_ROOT, relative)

    @property
    def base_url(self) -> str:
        url = settings.MEDIA_URL or "/media/"
        url = url if url.endswith("/") else f"{url}/"
        if settings.TENANCY_ROUTING == "path" and url.startswith("/"):
            url = f"{get_script_prefix().rstrip('/')}{url}"
        return url


def tenant_media_root() -> Path:
    """The current tenant's media folder (MEDIA_ROOT/<schema>), with symbolic links resolved."""
    return Path(os.path.realpath(default_storage.path("")))


def tenant_media_bytes() -> int:
    """Bytes of the regular files in the current tenant's media folder and its subfolders (0 when it has none
    yet): the usage counted against the plan's media storage limit. Symbolic links are neither followed nor
    counted."""
    total = 0
    for folder, _dirs, files in os.walk(tenant_media_root()):
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except FileNotFoundError:  # deleted meanwhile (a replaced image removed on commit)
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def tenant_media_file(path: str) -> Path:
    """The file `path` names inside the current tenant's media folder; raise Http404 for anything else.

    Refused: empty or absolute paths, NUL bytes, `.` or `..` segments, and any path that leaves the folder
    once symbolic links are resolved (a link to another tenant's folder, or to /etc).
    """
    parts = path.split("/")
    if not path or path.startswith("/") or "\x00" in path or any(part in ("", ".", "..") for part in parts):
        raise Http404("no such file")
    root = tenant_media_root()
    candidate = Path(os.path.realpath(root.joinpath(*parts)))
    if not candidate.is_relative_to(root) or candidate == root or not candidate.is_file():
        raise Http404("no such file")
    return candidate


@require_safe
@login_required
def tenant_media(request: HttpRequest, path: str) -> FileResponse:
    """`/media/<path>` on a tenant host: the current tenant's uploaded file `path`, for its members (others get
    the login page); 404 for a path outside the tenant's folder or a file that does not exist.

    Served with `X-Content-Type-Options: nosniff`, a sandboxing Content-Security-Policy (an uploaded file is
    never run as a page of the tenant's site), `Cross-Origin-Resource-Policy: same-origin` (other hosts,
    other tenants' included, cannot embed it) and private caching.
    """
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        raise Http404("media are served on tenant hosts")
    file = tenant_media_file(path)
    content_type, encoding = mimetypes.guess_type(file.name)
    if encoding or not content_type:  # `x.svg.gz` is a download, never an image the browser unpacks
        content_type = "application/octet-stream"
    response = FileResponse(file.open("rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = f"private, max-age={MEDIA_MAX_AGE}"
    return response


def tenant_media_retire(schema_name: str) -> Path | None:
    """Move the media folder of the dropped schema `schema_name` to MEDIA_ROOT/.dropped/<schema>-<UTC time>/.

    A tenant created later under the same slug gets the same schema name, hence the same folder: it must start
    empty, not with the dropped tenant's files. The moved folder stays for a restore (lifecycle.backup writes the
    database only). Returns the new location, or None when the schema had no media folder.
    """
    folder = Path(settings.MEDIA_ROOT) / schema_name
    if not schema_name or "/" in schema_name or schema_name.startswith(".") or not folder.is_dir():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = Path(settings.MEDIA_ROOT) / ".dropped" / f"{schema_name}-{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True)
    folder.rename(target)
    return target
