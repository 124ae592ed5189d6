"""Gate reports: one row per check (measured, threshold, outcome), as a table, JSON or JUnit XML."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from xml.etree import ElementTree

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check. ``skip`` means it could not apply here; the detail says why."""

    check: str
    status: Status
    measured: str = ""
    threshold: str = ""
    detail: str = ""


@dataclass(frozen=True)
class GateReport:
    candidate: str
    alias: str
    champion: str | None
    policy: str
    evaluation_data: str | None
    evaluation_rows: int
    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(result.status != "fail" for result in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if result.status == "fail"]

    def summary(self) -> str:
        if self.passed:
            return f"{self.candidate} passed the gate to {self.alias} ({len(self.results)} checks)"
        names = ", ".join(result.check for result in self.failures)
        return f"{self.candidate} failed the gate to {self.alias}: {names}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "alias": self.alias,
            "champion": self.champion,
            "policy": self.policy,
            "evaluation_data": self.evaluation_data,
            "evaluation_rows": self.evaluation_rows,
            "passed": self.passed,
            "results": [asdict(result) for result in self.results],
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateReport:
        return cls(
            candidate=data["candidate"],
            alias=data["alias"],
            champion=data.get("champion"),
            policy=data.get("policy", ""),
            evaluation_data=data.get("evaluation_data"),
            evaluation_rows=data.get("evaluation_rows", 0),
            results=[CheckResult(**result) for result in data.get("results", [])],
            notes=list(data.get("notes", [])),
        )

    def to_junit(self) -> str:
        """JUnit XML: one test case per check, so CI systems show the gate like a test suite."""
        suite = ElementTree.Element(
            "testsuite",
            name=f"shipyard gate {self.candidate} -> {self.alias}",
            tests=str(len(self.results)),
            failures=str(len(self.failures)),
            skipped=str(sum(1 for r in self.results if r.status == "skip")),
        )
        for result in self.results:
            case = ElementTree.SubElement(suite, "testcase", classname="shipyard.gate", name=result.check)
            measured, threshold = result.measured or "-", result.threshold or "-"
            text = f"measured {measured}, threshold {threshold}. {result.detail}".strip()
            if result.status == "fail":
                ElementTree.SubElement(case, "failure", message=text[:500]).text = text
            elif result.status == "skip":
                ElementTree.SubElement(case, "skipped", message=text[:500])
            else:
                ElementTree.SubElement(case, "system-out").text = text
        return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True)
