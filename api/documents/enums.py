"""Kinds of controlled document and the states of a document version (clauses 5.2, 7.3)."""

from __future__ import annotations

from enum import StrEnum


class DocumentKind(StrEnum):
    """The documented information of 7.3 a-e, and the carbon policy of 5.2."""

    CARBON_POLICY = "carbon_policy"  # 5.2: one in force for the park at a time
    MANUAL = "manual"  # 7.3 a: 碳排放管理手册
    PROCEDURE = "procedure"  # 7.3 b: 程序文件
    MANAGEMENT_RULE = "management_rule"  # 7.3 c: 管理制度
    WORK_INSTRUCTION = "work_instruction"  # 7.3 d: 作业文件
    RECORD_FORM = "record_form"  # 7.3 e: the form a record is kept on
    EXTERNAL = "external"  # a standard or regulation the park controls the copies of


class VersionState(StrEnum):
    """7.3: drafted (编制), approved after review (审查, 批准), issued (发放), withdrawn (废止);
    a version withdrawn because a newer one was issued names it in ``superseded_by``."""

    DRAFT = "draft"
    APPROVED = "approved"
    ISSUED = "issued"
    WITHDRAWN = "withdrawn"
