"""What a management review's state allows (clause 9.5; 7.3 for the closed record)."""

from __future__ import annotations

from api.errors import ApiError
from api.management_reviews.enums import ReviewState


def editable(state: ReviewState, review_id: int) -> None:
    """A draft's header, inputs and outputs may change; a closed review's never (409)."""
    if state is ReviewState.CLOSED:
        raise ApiError(409, f"management review {review_id} is closed: its record is immutable")
