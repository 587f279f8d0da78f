"""Carbon intensity: tCO2e per unit of output or output value (clauses 3.3.10 and 6.4).

Intensity is a performance parameter: tCO2e per tonne of product or per 10^4 CNY of output
value. A period with no output has no intensity (not zero, not infinity).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from accounting.carriers import Carrier


class OutputUnit(StrEnum):
    TONNE_PRODUCT = "t product"
    CNY_10K = "10^4 CNY"


# The carrier whose meters or entries supply each output measure.
OUTPUT_CARRIER: dict[OutputUnit, Carrier] = {
    OutputUnit.TONNE_PRODUCT: Carrier.PRODUCTION_OUTPUT,
    OutputUnit.CNY_10K: Carrier.OUTPUT_VALUE,
}


class IntensityError(ValueError):
    """No meaningful intensity: output zero or negative, or emissions negative."""


@dataclass(frozen=True, slots=True)
class Intensity:
    subject: str
    tco2e: float
    output: float
    output_unit: OutputUnit
    value: float  # tCO2e per output unit

    @property
    def unit(self) -> str:
        return f"tCO2e/{self.output_unit}"


def intensity(subject: str, tco2e: float, output: float, output_unit: OutputUnit) -> Intensity:
    """tCO2e per ``output_unit`` for one subject and period."""
    if output <= 0:
        raise IntensityError(f"{subject}: output {output} {output_unit} gives no intensity")
    if tco2e < 0:
        raise IntensityError(f"{subject}: negative emissions {tco2e} tCO2e")
    return Intensity(subject, tco2e, output, output_unit, tco2e / output)


def intensity_batch(tco2e: NDArray[np.float64], output: NDArray[np.float64]) -> NDArray[np.float64]:
    """Element-wise tCO2e / output for windows or subjects; NaN where output <= 0."""
    result = np.full(np.broadcast(tco2e, output).shape, np.nan)
    np.divide(tco2e, output, out=result, where=output > 0)
    return result
