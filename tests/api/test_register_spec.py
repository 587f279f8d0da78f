"""The system columns of an imported row (``api.registers.spec.SystemColumns``): the status
column holds the register's own states, and a blank one reaches the writer as None."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.measures.enums import MeasureState
from api.measures.spec import CALIBRATIONS, MEASURES, OBJECTIVES
from api.registers.spec import RecordStatus, SystemColumns
from api.risks.spec import RISKS


def test_a_plain_registers_blank_status_reads_active() -> None:
    head = RISKS.head.model_validate({"record_id": 7})
    assert head.status is None
    assert head.status_or(RecordStatus.ACTIVE) is RecordStatus.ACTIVE
    archived = RISKS.head.model_validate({"status": "archived"})
    assert archived.status_or(RecordStatus.ACTIVE) is RecordStatus.ARCHIVED


def test_a_workflow_register_holds_its_own_states_and_refuses_a_plain_one() -> None:
    assert MEASURES.head.model_validate({"status": "in_progress"}).status is (
        MeasureState.IN_PROGRESS
    )
    with pytest.raises(ValidationError, match="status"):
        MEASURES.head.model_validate({"status": "archived"})
    assert OBJECTIVES.head.model_validate({"status": "achieved"}).status == "achieved"
    with pytest.raises(ValidationError, match="status"):
        OBJECTIVES.head.model_validate({"status": "proposed"})
    assert CALIBRATIONS.head is SystemColumns[RecordStatus]


def test_a_row_names_no_column_beyond_the_system_ones() -> None:
    with pytest.raises(ValidationError, match="owner"):
        SystemColumns[RecordStatus].model_validate({"owner": "x"})
    with pytest.raises(ValidationError, match="record_id"):
        SystemColumns[RecordStatus].model_validate({"record_id": 0})
