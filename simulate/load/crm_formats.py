"""CRM exports as they come: column names, stage names, dates and amounts of real systems.

A Salesforce opportunity report or a HubSpot deal export names its columns its own way
(`CreatedDate`, `Deal Stage`), holds only each deal's current stage, writes dates with a time
(`2017-03-07 00:00:00`) or the American way, and amounts with a currency (`$1,054`). A map
(`--map MAP.yaml`) says how to read one:

    columns: {deal_id: Id, created: CreatedDate, closed_date: CloseDate, stage: StageName,
              amount: Amount, rep: OwnerId, product: Product__c, segment: Segment__c}
    dates: "%m/%d/%Y"
    stages: {Prospecting: lead, Qualification: intent, Proposal: negotiation,
             Negotiation: negotiation, Closed Won: won, Closed Lost: lost}

Without a map, the standard Salesforce and HubSpot field and stage names are recognised.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, Location

CANONICAL = ("deal_id", "created", "intent_date", "negotiation_date", "closed_date", "last_stage", "outcome",
             "amount", "segment", "product", "channel", "rep", "region", "stage")
STAGE_TARGETS = ("lead", "intent", "negotiation", "won", "lost")

# Standard field names (normalised: lower case, spaces and dashes as underscores).
ALIASES = {
    "deal_id": ("id", "opportunity_id", "opportunityid", "deal_id", "record_id", "hs_object_id", "dealid"),
    "created": ("createddate", "created_date", "create_date", "createdate", "created_on"),
    "closed_date": ("closedate", "close_date", "closed_on", "date_closed"),
    "stage": ("stagename", "stage_name", "deal_stage", "dealstage", "stage"),
    "amount": ("amount", "deal_amount", "amount_in_company_currency", "opportunity_amount"),
    "rep": ("ownerid", "owner_id", "owner", "opportunity_owner", "deal_owner", "hubspot_owner_id", "sales_agent"),
    "channel": ("leadsource", "lead_source", "original_source", "hs_analytics_source", "source"),
    "segment": ("segment__c", "customer_segment", "tier", "account_tier"),
    "product": ("product__c", "product_name", "product"),
    "region": ("region__c", "territory", "regional_office"),
}
# Standard stage names, Salesforce's and HubSpot's (labels and internal ids), lower case.
STAGES = {
    "prospecting": "lead", "qualification": "lead", "needs analysis": "intent", "value proposition": "intent",
    "id. decision makers": "intent", "perception analysis": "intent", "proposal/price quote": "negotiation",
    "negotiation/review": "negotiation", "closed won": "won", "closed lost": "lost",
    "appointmentscheduled": "lead", "appointment scheduled": "lead", "qualifiedtobuy": "intent",
    "qualified to buy": "intent", "presentationscheduled": "intent", "presentation scheduled": "intent",
    "decisionmakerboughtin": "negotiation", "decision maker bought-in": "negotiation",
    "contractsent": "negotiation", "contract sent": "negotiation", "closedwon": "won", "closedlost": "lost",
    "lead": "lead", "intent": "intent", "negotiation": "negotiation", "won": "won", "lost": "lost",
    "engaging": "intent",
}
# How Salesforce and HubSpot name an export's columns and stages (synth-crm writes them so;
# the reader knows them by ALIASES and STAGES, and a test reads them back).
STYLES = {
    "salesforce": {
        "columns": {"deal_id": "Id", "created": "CreatedDate", "closed_date": "CloseDate", "stage": "StageName",
                    "amount": "Amount", "rep": "OwnerId", "channel": "LeadSource", "segment": "Segment__c",
                    "product": "Product__c", "region": "Region__c"},
        "stages": {"lead": "Prospecting", "intent": "Needs Analysis", "negotiation": "Negotiation/Review",
                   "won": "Closed Won", "lost": "Closed Lost"}},
    "hubspot": {
        "columns": {"deal_id": "Record ID", "created": "Create Date", "closed_date": "Close Date",
                    "stage": "Deal Stage", "amount": "Amount", "rep": "Deal owner", "channel": "Original Source",
                    "segment": "Tier", "product": "Product", "region": "Territory"},
        "stages": {"lead": "Appointment Scheduled", "intent": "Qualified To Buy", "negotiation": "Contract Sent",
                   "won": "Closed Won", "lost": "Closed Lost"}},
}
# Date formats recognised without a map, besides ISO; the first that reads every date of a
# file is used, and a file whose dates read both month-first and day-first is refused.
DATE_FORMATS = ("%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%m/%d/%y", "%d/%m/%y", "%d-%b-%Y", "%d %b %Y",
                "%b %d, %Y")
_TIME = re.compile(r"[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm])?\s*(?:Z|[+-]\d{2}:?\d{2})?$")
_CURRENCY = re.compile(r"^\s*(?:[A-Z]{3}\s*)?[$€£¥]?\s*(-?[\d.,\s']+)\s*(?:[$€£¥]|[A-Z]{3})?\s*$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def normal(name: str) -> str:
    """A column name as compared: lower case, spaces and dashes as underscores."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@dataclass(frozen=True)
class ExportMap:
    """How to read one CRM's export: its column for each canonical field, its stage names,
    its date format (None: ISO, with or without a time)."""

    columns: dict[str, str] = field(default_factory=dict)       # canonical -> normalised CRM name
    stages: dict[str, str] = field(default_factory=dict)        # lower-case CRM stage -> target
    dates: str | None = None
    file: str | None = None

    def rename(self, header: list[str]) -> tuple[list[str], dict[str, str]]:
        """The header in canonical names, and canonical -> the file's own name (for errors).

        A mapped column wins; else a canonical name as is; else a standard Salesforce or
        HubSpot name. A column used once is not used again."""
        out = list(header)
        shown: dict[str, str] = {}
        taken: set[int] = set()
        for canon in CANONICAL:
            candidates = [self.columns[canon]] if canon in self.columns else [canon, *ALIASES.get(canon, ())]
            for name in candidates:
                if name in header and header.index(name) not in taken:
                    i = header.index(name)
                    taken.add(i)
                    out[i] = canon
                    shown[canon] = name
                    break
        for i, name in enumerate(out):
            if i not in taken and name in CANONICAL:
                out[i] = f"{name} (unused)"       # a canonical name already claimed by a mapped column
        return out, shown

    def stage(self, text: str) -> str | None:
        key = text.strip().lower()
        return self.stages.get(key) or STAGES.get(key)

    def date(self, text: str) -> dt.date:
        """A date in the map's format (a time of day may follow), else ISO (an Excel date
        cell reads as ISO whatever the format)."""
        text = text.strip()
        if self.dates:
            for candidate in (text, _TIME.sub("", text)):
                try:
                    return dt.datetime.strptime(candidate, self.dates).date()
                except ValueError:
                    pass
        return iso_date(text)

    def date_hint(self) -> str:
        return f"a date as {self.dates}" if self.dates else \
            "an ISO date such as 2027-03-14 (a time may follow; other formats: `dates:` in --map)"


def iso_date(text: str) -> dt.date:
    """An ISO date, with or without a time of day; ValueError otherwise."""
    match = _DATETIME.match(text.strip())
    if not match:
        raise ValueError(text)
    return dt.date.fromisoformat(match.group(1))


def infer_dates(texts: list[str]) -> str | None:
    """The format of a file's dates: None when any is ISO, else the first of DATE_FORMATS
    that reads them all (a time of day may follow). ValueError when dates read both
    month-first and day-first; None as well when no format reads them all (the reader then
    names the first bad cell)."""
    texts = [t.strip() for t in texts if t.strip()]
    days = [_TIME.sub("", t) for t in texts if not _DATETIME.match(t)]
    if not days or len(days) < len(texts):
        return None           # ISO, or ISO with some bad cells

    def reads(fmt: str) -> bool:
        try:
            for d in days:
                dt.datetime.strptime(d, fmt)
        except ValueError:
            return False
        return True
    fits = [fmt for fmt in DATE_FORMATS if reads(fmt)]
    if not fits:
        return None
    pairs = {("%m/%d/%Y", "%d/%m/%Y"), ("%m/%d/%y", "%d/%m/%y")}
    if len(fits) > 1 and (fits[0], fits[1]) in pairs:
        raise ValueError(f"dates such as '{days[0]}' read both month-first ({fits[0]}) and day-first ({fits[1]})")
    return fits[0]


def money_text(text: str) -> str:
    """An amount without its currency sign or code: '$1,054' -> '1,054', 'EUR 12.5' -> '12.5'."""
    match = _CURRENCY.match(text)
    return match.group(1).replace(" ", "").replace("'", "") if match else text


def load_map(path: Path | None) -> ExportMap:
    """Read `--map MAP.yaml`; errors name the file and the key."""
    if path is None:
        return ExportMap()
    from .yamlio import load_document
    doc = load_document(path)
    data = doc.data if isinstance(doc.data, dict) else None
    where = Location(str(path))
    if data is None:
        raise InputError("expected a mapping with `columns`, `stages` and `dates`", where)
    unknown = set(data) - {"columns", "stages", "dates"}
    if unknown:
        raise InputError(f"unknown key '{sorted(unknown)[0]}': expected columns, stages or dates", where)
    columns = data.get("columns") or {}
    stages = data.get("stages") or {}
    if not isinstance(columns, dict) or not isinstance(stages, dict):
        raise InputError("`columns` and `stages` must be mappings", where)
    for canon in columns:
        if canon not in CANONICAL:
            raise InputError(f"columns: unknown field '{canon}': expected one of {', '.join(CANONICAL)}", where)
    for crm, target in stages.items():
        if str(target) not in STAGE_TARGETS:
            raise InputError(f"stages: '{crm}' maps to '{target}': expected one of {', '.join(STAGE_TARGETS)}",
                             where)
    dates = data.get("dates")
    if dates is not None:
        try:
            dt.datetime.strptime(dt.date(2027, 3, 14).strftime(str(dates)), str(dates))
        except ValueError:
            raise InputError(f"dates: '{dates}' is not a date format such as %m/%d/%Y", where) from None
    return ExportMap({str(k): normal(str(v)) for k, v in columns.items()},
                     {str(k).strip().lower(): str(v) for k, v in stages.items()},
                     None if dates is None else str(dates), str(path))


def describe(export_map: ExportMap, shown: dict[str, str]) -> str:
    """How the columns were read, for the plan's comments and the review."""
    renamed = [f"{canon} <- {name}" for canon, name in shown.items() if canon != name]
    how = "the map " + Path(export_map.file).name if export_map.file else "standard CRM field names"
    return f"columns read through {how}: " + ", ".join(renamed) if renamed else ""


def as_text(value: Any) -> str:
    return "" if value is None else str(value)
