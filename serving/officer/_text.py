"""Every user-facing string of the officer view, in one place so it can be translated.

Templates read them as ``t.key``; code reads ``TEXT["key"]``. Keep the keys, change the
values: a translation is a copy of this dictionary.
"""

from __future__ import annotations

TEXT: dict[str, str] = {
    # frame
    "app_name": "parcelscreen: officer view",
    "skip_link": "Skip to main content",
    "nav_label": "Main",
    "nav_queue": "Queue",
    "nav_model": "Model",
    "signed_in_as": "Signed in as",
    "sign_out": "Sign out",
    "support_note": (
        "The risk score supports and does not replace the officer's decision. Check every "
        "reason against the declaration; the decision to open, release or seize is yours."
    ),
    # sign-in
    "signin_title": "Sign in",
    "username": "User name",
    "password": "Password",
    "signin_button": "Sign in",
    "signin_failed": "The user name or password is wrong.",
    "signin_throttled": (
        "Too many failed sign-ins for this user name or from this computer. "
        "Try again in {minutes} minutes, or ask an administrator."
    ),
    "signin_no_role": "This account does not have the officer role and may not use this view.",
    "signed_out": "You are signed out.",
    # errors
    "error_title": "Request refused",
    "csrf_failed": (
        "The form could not be verified (missing or wrong security token). "
        "Reload the page and try again."
    ),
    "forbidden": "Your account may not do this.",
    "not_found": "No scored parcel with this item ID.",
    "invalid_outcome": "The outcome was not recorded:",
    "back_to_queue": "Back to the queue",
    # queue
    "queue_title": "Today's flagged parcels",
    "queue_title_day": "Flagged parcels of {day}",
    "queue_title_all": "Flagged parcels, all days",
    "halted_banner": (
        "Model-based selection is halted: parcels are selected by rules and random control "
        "only, and their scores are not used for selection."
    ),
    "queue_intro": "Parcels selected for inspection or review, highest risk first.",
    "filters": "Filters",
    "filter_band": "Band",
    "filter_origin": "Origin country",
    "filter_status": "Status",
    "filter_date": "Scored on",
    "filter_any": "Any",
    "filter_apply": "Apply filters",
    "filter_reset": "Reset",
    "col_rank": "Rank",
    "col_item": "Item ID",
    "col_origin": "Origin",
    "col_category": "Category",
    "col_contents": "Declared contents",
    "col_weight": "Weight (kg)",
    "col_value": "Value",
    "col_score": "Chance of seizure",
    "col_band": "Band",
    "col_decision": "Decision",
    "col_selection": "Selected by",
    "col_status": "Status",
    "queue_empty": "No flagged parcels match these filters.",
    "queue_count": "{total} parcels; page {page} of {pages}",
    "queue_count_one": "1 parcel",
    "page_prev": "Previous page",
    "page_next": "Next page",
    "paging": "Pages",
    # values
    "kind_decision": "Scored",
    "kind_outcome": "Outcome recorded",
    "kind_outcome_correction": "Outcome corrected",
    "kind_outcome_correction_pending": "Correction asked (waiting for approval)",
    "kind_outcome_correction_approved": "Correction approved",
    "kind_explanation_viewed": "Explanation viewed",
    "kind_officer_feedback": "Officer note",
    "kind_halt": "Selection halted",
    "kind_resume": "Selection resumed",
    "band_very_high": "Very high",
    "band_high": "High",
    "band_medium": "Medium",
    "band_low": "Low",
    "decision_inspect": "Inspect",
    "decision_review": "Review",
    "decision_pass": "Pass",
    "selection_model": "Model",
    "selection_random_control": "Random control",
    "selection_rule": "Rule",
    "selection_tip_off": "Tip-off",
    "selection_other": "Other",
    "selection_none": "Not selected",
    "status_open": "Open",
    "status_inspected": "Inspected",
    "status_closed": "Closed",
    "result_seized": "seized",
    "result_clean": "clean",
    "result_other_irregularity": "other irregularity",
    "result_not_inspected": "not inspected",
    # parcel page
    "parcel_title": "Parcel {item_id}",
    "declaration": "Declaration as filed",
    "declaration_note": (
        "Names, addresses and contact details are not stored by this service; they are shown "
        "as shortened pseudonymous tokens. The clear declaration is in the postal operator's "
        "system."
    ),
    "field_item": "Item ID",
    "field_posted": "Posted at",
    "field_office": "Posting office",
    "field_route": "Origin to destination",
    "field_category": "Category",
    "field_weight": "Gross weight (kg)",
    "field_value": "Declared value",
    "field_charges": "Postal charges",
    "field_sender": "Sender",
    "field_recipient": "Recipient",
    "lines": "Content lines",
    "line_description": "Description",
    "line_quantity": "Quantity",
    "line_weight": "Net weight (kg)",
    "line_value": "Value",
    "line_hs": "HS code",
    "line_origin": "Origin",
    "score": "Score",
    "risk_score": "Estimated chance of a seizure",
    "band": "Band",
    "decision": "Decision",
    "selection": "Selected by",
    "selection_probability": "Selection probability",
    "model_version": "Model version",
    "scored_at": "Scored at",
    "mode": "Mode",
    "explanation": "Why this score",
    "waterfall_caption": (
        "How each group of declaration fields moved the risk up or down, from the average "
        "parcel to this one. The bars are the model's points of evidence, which add up "
        "exactly; the chance of a seizure above is this parcel's points turned into a "
        "probability and calibrated against recorded inspection outcomes."
    ),
    "waterfall_title": "Explanation waterfall for {item_id}",
    "waterfall_base": "Average parcel",
    "waterfall_final": "This parcel",
    "waterfall_other": "Other factors",
    "reasons": "Reasons in plain language",
    "reason_up": "raises the risk",
    "reason_down": "lowers the risk",
    "points": "points",
    "history": "Pseudonymous history",
    "history_intro": (
        "Earlier parcels and outcomes of the same sender, recipient and addresses, "
        "identified only by keyed tokens."
    ),
    "history_entity": "Entity",
    "history_token": "Token",
    "history_prev_parcels": "Earlier parcels (at scoring)",
    "history_prev_seizures": "Earlier seizures (at scoring)",
    "history_parcels_now": "Parcels now",
    "history_seizures_now": "Seizures now",
    "history_clean_now": "Clean inspections now",
    "entity_sender": "Sender",
    "entity_sender_address": "Sender address",
    "entity_recipient": "Recipient",
    "entity_recipient_address": "Recipient address",
    "token_none": "none",
    # outcome form
    "outcome": "Record the outcome",
    "outcomes_recorded": "Outcomes recorded",
    "outcome_inspected": "Was the parcel inspected?",
    "outcome_yes": "Yes, inspected",
    "outcome_no": "No, released without inspection",
    "outcome_result": "Result",
    "outcome_substance": "Substance (if seized)",
    "outcome_quantity": "Quantity in grams (if seized)",
    "outcome_notes": "Notes",
    "outcome_disagree": "I disagree with the model",
    "outcome_disagree_reason": "Why do you disagree?",
    "outcome_submit": "Record outcome",
    "outcome_choose": "Choose the result",
    "outcome_errors_above": "The outcome was not recorded: see the form below.",
    # what an officer reads for a problem with the outcome form (by field)
    "outcome_problem_inspected": "Say whether the parcel was inspected.",
    "outcome_problem_result": "Choose the result of the inspection.",
    "outcome_problem_quantity_g": (
        "Quantity in grams: enter a number above 0, such as 1.5 or 1,5, without a thousands "
        "separator (1500, not 1,500)."
    ),
    "outcome_problem_substance": "Substance: at most 60 characters.",
    "outcome_problem_seized_only": (
        "Substance and quantity are recorded only when the result is Seized: clear them or "
        "choose Seized."
    ),
    "outcome_saved": "The outcome was recorded and the history updated.",
    "outcome_saved_pending": (
        "The correction was recorded. It overturns a seizure, so it counts (in the queue, the "
        "history and the next training set) only once another officer approves it."
    ),
    "outcome_time": "Recorded at",
    "outcome_officer": "Officer",
    # corrections: outcomes are append-only
    "outcome_correct": "Correct the outcome",
    "outcome_correcting": (
        "This parcel has an outcome already (record #{id}, marked current above). Outcomes are "
        "never overwritten: what you record now is a correction of record #{id}, kept beside "
        "it, and needs a reason."
    ),
    "outcome_four_eyes": (
        "Overturning a seizure needs a second officer: your correction will count only once "
        "another officer approves it."
    ),
    "outcome_correction_reason": "Reason for the correction (for example a laboratory report)",
    "outcome_problem_correction_reason": (
        "Say why you correct the recorded outcome: a correction needs a reason."
    ),
    "outcome_problem_corrects": "The record to correct is not valid: reload the page.",
    "outcome_conflict": (
        "An outcome of this parcel was recorded or corrected meanwhile (see the records "
        "above). Check it; to correct it, fill in the form again with a reason."
    ),
    "outcome_record": "Record #{id}",
    "outcome_by": "by",
    "outcome_corrects": "corrects #{id}",
    "outcome_reason": "reason",
    "outcome_approved_by": "approved by {who}, {when}",
    "outcome_approve": "Approve correction #{id}",
    "outcome_waiting_other": "Another officer must approve it.",
    "outcome_approved": "The correction was approved: it is now the parcel's outcome.",
    "approve_own": (
        "You asked for this correction, so you cannot approve it: another officer must."
    ),
    "approve_done": "This correction is not waiting for approval: it was approved already.",
    "approve_outdated": (
        "This correction can no longer be approved: the outcome it corrects was corrected "
        "since. Ask for a new correction of the current outcome if it is still needed."
    ),
    "standing_current": "current",
    "standing_corrected": "corrected by a later record",
    "standing_pending": "waiting for another officer's approval",
    "standing_outdated": "not approved: the outcome it corrects was corrected since",
    "queue_pending": "correction waiting for approval",
    "decision_log": "Decision log for this parcel",
    "log_time": "Time",
    "log_kind": "Record",
    "log_caller": "By",
    "log_decision": "Decision or result",
    # model page
    "model_title": "Model",
    "model_none": "No model is loaded.",
    "model_created": "Trained at",
    "model_bundle": "Bundle hash",
    "model_alias": "Registry alias",
    "model_card": "Model card",
    "model_metrics": "Metrics at inspection capacity",
    "metrics_sample": "Sample",
    "metrics_capacity": "Capacity",
    "metrics_precision": "Precision",
    "metrics_recall": "Recall",
    "drift": "Current drift",
    "drift_intro": "Population stability index of the score and features over recent parcels.",
    "drift_none": "Too few recent parcels to measure drift.",
    "drift_score": "Score PSI",
    "drift_parcels": "Parcels measured",
    "drift_alert": "Features beyond the alert level ({level})",
    "drift_ok": "No feature beyond the alert level.",
    "shadow": "Champion and challenger",
    "shadow_none": "No challenger model is published.",
    "shadow_intro": (
        "Both models scored the same parcels; compared on the outcomes recorded for them. "
        "The challenger has no effect on decisions."
    ),
    "shadow_model": "Model",
    "shadow_version": "Version",
    "shadow_outcomes": "Inspected parcels with outcome",
    "shadow_seizures": "Seizures",
    "shadow_auc": "ROC AUC",
    "shadow_top_hits": "Seizures in the top {share} of scores",
    "shadow_champion": "Champion",
    "shadow_challenger": "Challenger",
    "halt": "Halt switch",
    "halt_on": "Model-based selection is HALTED: parcels are selected by the fallback.",
    "halt_off": "Model-based selection is running.",
    "halt_reason": "Reason",
    "halt_button": "Halt model-based selection",
    "resume_button": "Resume model-based selection",
    "halt_admin_only": "Only an administrator can halt or resume the model.",
}


def label(prefix: str, value: object) -> str:
    """The display text of an enumerated value (band, decision, ...), or the value itself."""
    if value is None or value == "":
        return ""
    return TEXT.get(f"{prefix}_{value}", str(value))
