"""Task imports: reading files of tasks, checking their rows, and saving them in bulk.

The services in ``projects.services.imports`` drive these parts; views import
``import_progress_percent`` and ``row_numbering_note`` from here.
"""

from projects.imports.progress import import_progress_percent
from projects.imports.sources import row_numbering_note

__all__ = ["import_progress_percent", "row_numbering_note"]
