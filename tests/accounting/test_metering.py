"""GB 17167 accuracy classes and the table 3 requirements (clause 9.1 c)."""

from __future__ import annotations

import pytest

from accounting.carriers import Carrier
from accounting.meter import MeterProfile
from accounting.metering import (
    MeteringLevel,
    accuracy_sufficient,
    parse_accuracy_class,
    required_accuracy,
    requirement_table,
)
from accounting.reasons import FLAG_MASK, QUARANTINE_MASK, Reason, is_quarantined, reason_names

from .meter_helpers import counter


def test_accuracy_classes_order_from_strict_to_coarse_with_s_before_plain() -> None:
    labels = ["2.0", "0.5", "0.2S", "1", "0.5S", "0.2"]
    ordered = sorted(labels, key=parse_accuracy_class)
    assert ordered == ["0.2S", "0.2", "0.5S", "0.5", "1", "2.0"]
    assert parse_accuracy_class("0.5s").label == "0.5S"


def test_s_class_satisfies_the_plain_requirement_but_not_the_reverse() -> None:
    assert parse_accuracy_class("0.5S").satisfies(parse_accuracy_class("0.5"))
    assert not parse_accuracy_class("0.5").satisfies(parse_accuracy_class("0.5S"))


@pytest.mark.parametrize("bad", ["", "S", "abc", "-1", "0"])
def test_malformed_accuracy_class_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_accuracy_class(bad)
    with pytest.raises(ValueError):
        counter(accuracy_class=bad)


def test_every_requirement_row_names_its_source_and_covers_all_three_levels() -> None:
    table = requirement_table()
    assert all(row.source.startswith("GB 17167-2006 table 3") for row in table)
    for level in MeteringLevel:
        assert required_accuracy(Carrier.ELECTRICITY, level) is not None


def test_electricity_requirement_follows_the_user_class() -> None:
    level = MeteringLevel.UNIT
    assert required_accuracy(Carrier.ELECTRICITY, level, "user_class_I").required.label == "0.5S"  # type: ignore[union-attr]
    assert accuracy_sufficient("1.0", Carrier.ELECTRICITY, level, "user_class_III")
    assert not accuracy_sufficient("2.0", Carrier.ELECTRICITY, level, "user_class_III")


def test_unknown_category_is_refused_and_missing_category_takes_the_strictest_row() -> None:
    with pytest.raises(ValueError):
        required_accuracy(Carrier.WATER, MeteringLevel.UNIT, "dn_9000")
    strictest = required_accuracy(Carrier.WATER, MeteringLevel.UNIT)
    assert strictest is not None and strictest.category == "dn_gt_250"


def test_carrier_without_table_row_has_no_requirement() -> None:
    assert required_accuracy(Carrier.HEAT, MeteringLevel.UNIT) is None
    assert accuracy_sufficient("5", Carrier.HEAT, MeteringLevel.UNIT)


def test_quarantine_reasons_and_flags_use_separate_bit_halves() -> None:
    quarantine = {
        Reason.OUT_OF_RANGE,
        Reason.NEGATIVE_DELTA,
        Reason.SPIKE,
        Reason.DUPLICATE_TIMESTAMP,
        Reason.OUT_OF_ORDER,
        Reason.FUTURE_TIMESTAMP,
        Reason.TOO_OLD,
        Reason.UNIT_MISMATCH,
        Reason.UNAUTHORIZED_SOURCE,
        Reason.TIMESTAMP_OUT_OF_RANGE,
        Reason.BEFORE_INSTALLATION,
        Reason.BEFORE_INVENTORY_START,
    }
    for reason in Reason:
        in_low = bool(reason & int(QUARANTINE_MASK))
        assert in_low == (reason in quarantine)
        assert in_low != bool(reason & int(FLAG_MASK))
    assert is_quarantined(Reason.SPIKE | Reason.GAP)
    assert not is_quarantined(Reason.ROLLOVER | Reason.GAP)
    assert reason_names(Reason.GAP | Reason.OUT_OF_RANGE) == ("OUT_OF_RANGE", "GAP")


def test_profile_refuses_inconsistent_settings() -> None:
    with pytest.raises(ValueError):
        counter(multiplier=0.0)
    with pytest.raises(ValueError):
        counter(rollover=-1.0)
    with pytest.raises(ValueError):
        counter(range_min=5.0, range_max=1.0)
    assert isinstance(counter(), MeterProfile)
