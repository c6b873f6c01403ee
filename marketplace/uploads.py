"""An upload handler that stops reading a file once it passes the size cap.

Django would otherwise spool an arbitrarily large body to a temporary file before any view
could look at its size. The view learns of the refusal from ``request.upload_too_large``.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class CappedUploadHandler(FileUploadHandler):
    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.received = 0
        path = getattr(request, "path_info", "") or ""
        # Only a logged-in user (or an API key, authenticated before DRF parses the body)
        # may send a task file: anonymous requests are cut off at the ordinary cap.
        user = getattr(request, "user", None)
        large = bool(user is not None and user.is_authenticated) and re.match(
            settings.LARGE_UPLOAD_PATH_PATTERN, path
        )
        self.limit = settings.MAX_TASK_IMPORT_SIZE + 1024 if large else settings.MAX_UPLOAD_SIZE

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            # Read and discard the rest of the body rather than dropping the connection, so
            # the browser gets the page that explains the refusal.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
