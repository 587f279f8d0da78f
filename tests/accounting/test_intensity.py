"""Carbon intensity (3.3.10): tCO2e per output unit; no output, no intensity."""

from __future__ import annotations

import numpy as np
import pytest

from accounting.carriers import Carrier
from accounting.intensity import (
    OUTPUT_CARRIER,
    IntensityError,
    OutputUnit,
    intensity,
    intensity_batch,
)


def test_intensity_per_tonne_of_product() -> None:
    result = intensity("E1", 30.0, 120.0, OutputUnit.TONNE_PRODUCT)
    assert result.value == 0.25 and result.unit == "tCO2e/t product"


def test_zero_output_has_no_intensity_rather_than_zero_or_infinity() -> None:
    with pytest.raises(IntensityError, match=r"output 0\.0 10\^4 CNY gives no intensity"):
        intensity("E2", 5.0, 0.0, OutputUnit.CNY_10K)
    with pytest.raises(IntensityError, match="negative emissions"):
        intensity("E2", -5.0, 1.0, OutputUnit.CNY_10K)


def test_batch_intensity_is_nan_where_there_is_no_output() -> None:
    result = intensity_batch(np.array([10.0, 4.0, 3.0]), np.array([5.0, 0.0, -1.0]))
    assert result[0] == 2.0 and np.isnan(result[1]) and np.isnan(result[2])


def test_each_output_unit_is_fed_by_one_carrier() -> None:
    assert OUTPUT_CARRIER[OutputUnit.CNY_10K] is Carrier.OUTPUT_VALUE
