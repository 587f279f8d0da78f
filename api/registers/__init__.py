"""The management-system registers' shared machinery (clauses 4-10, Annex A).

A register is a list of records a park's carbon office keeps: context issues (4.1), interested
parties (4.2), obligations (6.6), risks (6.1)... Each lives in its own package
(``api/context_issues/`` is the model) and leaves to this one what all registers do alike:

- ``spec``: ``RegisterSpec`` - the table, the content model, the XLSX labels, the reminders,
  the ``WriteRules`` of its writes and the ``SystemColumns`` of an imported row;
  ``RecordStatus`` (records are archived, never deleted).
- ``tenancy``: ``owner_of`` (whose record a write makes) and ``TENANT_FILTER`` (what a key
  reads). Park-level records (``enterprise_id`` NULL) are the park-wide keys'; an enterprise key
  sees and writes its own enterprise's records only, everything else reads as absent (404).
- ``service``: create, replace (archive/restore is a status change), get, list, export rows and
  the all-or-nothing import; every write appends its audit record (``api.audit.record``, the
  one audit writer) in the transaction of the change. The import validates each row's system
  columns (``spec.head``) and content (``spec.content``), finds its owner
  (``spec.rules.owner``) and the record it replaces, and hands the row to one
  ``service.RowWriter`` (``write_record`` unless the register passes its own).
- ``xlsx``: export and strict import of one sheet (typed cells, formula-safe text); exporting,
  importing that file and exporting again gives the same bytes.
- ``reminders``: the periodic check in the API process that raises a register's webhook event
  once per (register, record, date kind, date) when a declared date passes, through the webhook
  outbox.
- ``views``: what the routes share (owner fields, status field, export response, import route).

Adding a register (``/v1/risks`` as the example):

1. Migration: a table ``risk`` with the system columns ``record_id bigserial PRIMARY KEY``,
   ``park_id`` (NOT NULL, references park), ``enterprise_id`` (NULL: park-level, references
   enterprise), ``status`` ('active'/'archived'), ``created_at``, ``created_by``,
   ``updated_at``, ``updated_by`` (see ``context_issue`` in 0030), then one column per content
   field with the checks the model makes.
2. ``api/risks/models.py``: ``RiskContent`` (``extra="forbid"``; field names = column names;
   lists of ``xlsx.ListItem``; dates bounded), ``RiskIn(OwnerFields, RiskContent)``,
   ``RiskUpdate(StatusField, RiskContent)``, ``RiskOut`` and ``RiskPage``.
3. ``api/risks/spec.py``: ``SPEC = RegisterSpec(name="risk", table="risk", sheet="risks",
   content=RiskContent, labels={...}, title_column=..., reminders=(Reminder(column="review_on",
   date_kind="review", event=EventType.RISK_REVIEW_DUE),))``; add the event type to
   ``api/webhooks/enums.py`` (the tables check its form only) and ``SPEC`` to ``catalogue``.
4. ``api/risks/views.py``: copy ``api/context_issues/views.py`` and rename; include the router
   in ``api/app.py``.
5. Tests: a tenancy case per route in ``tests/api/test_tenancy_routes.py`` and the register's
   own tests (see ``tests/api/test_context_registers.py``).

A register whose records move through a workflow (``api/measures/``: measures, objectives)
names the states its status column holds (``RegisterSpec.head = SystemColumns[MeasureState]``;
a blank status reaches its writer as None), gives its reminders the open states
(``Reminder.statuses``), says how errors name a record (``RegisterSpec.record_name``) and
writes imported rows through its own service: a ``service.RowWriter`` passed to
``views.import_file`` (see ``api/measures/sheets.py``). A register whose records belong to what
they hang off (a meter's calibration events) finds an imported row's owner in its
``WriteRules.owner``.

A register whose records live in tables of their own shape (documents with versions, training
records, risks with actions, screenings) keeps them and presents a ``*_register`` view in the
system-column shape (see migration 0032); its ``RegisterSpec.table`` names the view, so export
and reminders work unchanged. Its import rows are stored by its own ``service.RowWriter``
(``service.fixed_records`` for records that change only through their workflow), and
``views.sheet_routes`` adds the export and import routes.

A finding that is a nonconformity (an audit finding, a failed evaluation) opens its ticket with
``api.tickets.nonconformity.open_nonconformity`` in the register's own transaction.
"""
