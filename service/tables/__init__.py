"""Tables 2, 3 and 4 of a report, read from any layout.

- ``grid``: the text (or an ingester's ``SourceTable``) → rows of cells with
  offsets, whatever the layout (tab rows, one cell per line, markdown, space
  separated figures, one small table per row).
- ``headers``: column names and the column order a header spells out.
- ``classify``: row label features and ``RowModel``, the trained row classifier.
- ``assemble``: alignment of classified rows against the template, layout,
  columns, values, flags, provenance, confidence → ``TablesResult``.
"""

from service.tables.assemble import read_tables
from service.tables.classify import RowModel

__all__ = ["RowModel", "read_tables"]
