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
    "nav_queue": "Worklist",
    "nav_mine": "My parcels",
    "nav_report": "Shift report",
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
    "form_field_repeated": (
        "The form sent the field {field} more than once, so it is not clear which "
        "value was meant. Nothing was recorded: reload the page and send the form again."
    ),
    "forbidden": "Your account may not do this.",
    "not_found": "No scored parcel with this item ID.",
    "invalid_outcome": "The outcome was not recorded:",
    "back_to_queue": "Back to the worklist",
    # queue
    "queue_title": "Open flagged parcels, any day",
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
    "filter_date": "Posted on",
    "filter_manifest": "Manifest (batch run)",
    "filter_office": "Posting office",
    "filter_transport": "Flight (master air waybill)",
    "transport_hint": "flight {document}",
    "transport_unreadable": (
        "Not a master air waybill number: {typed}. Type the airline's 3 digits and the "
        "8-digit serial (176-12345675, 176 12345675 or 17612345675); no parcel is listed "
        "until then."
    ),
    "filter_claimed": "Claimed by",
    "filter_anyone": "Anyone or nobody",
    "filter_mine": "Me",
    "filter_unclaimed": "Nobody yet",
    "filter_any": "Any",
    "filter_apply": "Apply filters",
    "filter_reset": "Reset",
    "col_rank": "Rank",
    "col_item": "Item ID",
    "col_origin": "Origin",
    "col_category": "Category",
    "col_contents": "Declared contents",
    "col_weight": "Gross weight",
    "col_posted": "Posted",
    "col_office": "Posting office",
    "col_actions": "Record outcome",
    "col_claimed": "Claimed by",
    "col_value": "Value",
    "col_score": "Chance of a seizure",
    "col_band": "Band",
    "col_decision": "Decision",
    "col_selection": "Selected by",
    "col_status": "Status",
    "queue_empty": "No flagged parcels match these filters.",
    "queue_count": "{total} parcels; page {page} of {pages}.",
    "queue_count_one": "1 parcel.",
    "page_prev": "Previous page",
    "page_next": "Next page",
    "paging": "Pages",
    # worklists, search, actions
    "worklist_nav": "Worklist",
    "back_to_parcel": "Back to the parcel",
    "next_parcel": "Next open parcel: {item}",
    "no_next": "No other open parcel in this worklist.",
    "worklist_done": "No open parcel is left in this worklist.",
    "last_recorded": "Recorded {item}: {result}.",
    "last_correct": "Correct it",
    "heading_status_open": "Open parcels",
    "heading_status_any": "Flagged parcels",
    "heading_status_done": "Parcels with an outcome",
    "heading_status_seized": "Seizures",
    "heading_status_clean": "Clean parcels",
    "heading_status_other_irregularity": "Parcels with another irregularity",
    "heading_status_released": "Parcels released without inspection",
    "heading_any_day": "of any day",
    "heading_day": "posted on {day}",
    "heading_manifest": "of manifest {manifest}",
    "heading_office": "from posting office {office}",
    "heading_transport": "on master air waybill {document}",
    "heading_mine": "claimed by me",
    "heading_partner_hits": "with a partner's seizure hit, whatever the model decided",
    "filter_partner_hits": "Partner hits only (any decision)",
    "queue_sorted": "Sorted by {column}, {direction}.",
    "sort_risk": "chance of a seizure",
    "sort_posted": "posting time",
    "sort_weight": "weight",
    "sort_value": "value in EUR",
    "sort_origin": "origin country",
    "sort_office": "posting office",
    "sort_item": "item ID",
    "sort_rank": "rank on the manifest's inspection list",
    "dir_desc": "highest first",
    "dir_asc": "lowest first",
    "manifest_listed": "{n} listed",
    "manifest_rank_title": "Rank on the manifest's inspection list",
    "export_csv": "Download this worklist (CSV)",
    "export_outcomes": "Download the outcomes of this period (CSV)",
    "search_label": "Find a parcel",
    "search_placeholder": "Scan or type an item ID",
    "search_button": "Find",
    "find_title": "Find a parcel",
    "find_some": "Parcels whose item ID holds {asked}:",
    "find_none": "No scored parcel has the item ID {asked}. Check the ID on the label.",
    "quick_title": "Record the outcome",
    "quick_seized": "Seized",
    "quick_clean": "Clean",
    "quick_released": "Released without inspection",
    "quick_released_short": "Released",
    "quick_seized_row": "Seized: record a seizure for {item}",
    "quick_seized_confirm": (
        "Record a seizure of {item}? Press Enter to record it, Escape to cancel."
    ),
    "key_enter": "Enter",
    "quick_clean_row": "Clean: record {item} as inspected and clean",
    "quick_released_row": "Released: record {item} as released without inspection",
    "quick_hint": (
        "One click records the outcome and opens the next open parcel of the worklist. "
        "Substance, weights, seal and photos go in the case record below."
    ),
    "quick_full_form": "Full outcome form",
    "quick_unknown": "Choose Seized, Clean or Released.",
    "why_flagged": "Why it was flagged",
    "why_risk": "What raised or lowered its risk",
    "partner_hit_title": "Partner hit",
    "partner_hit_one": (
        "A partner agency reported a seizure this parcel's sender or recipient matches."
    ),
    "partner_hit_many": (
        "Partner agencies reported {n} seizures this parcel's sender or recipient matches."
    ),
    "partner_hit_link": "Open the partner hits (and prepare a follow-up request)",
    "partner_hit_marker": "Partner hit",
    "see_explanation": "How each part of the declaration moved the chance",
    "declaration_brief": "The declaration in brief",
    "model_facts": "Model and scoring",
    "decided_by": "Decided by",
    "decided_by_batch": "a batch run of a manifest (rank {rank} on its inspection list)",
    "see_manifest": "Open the manifest's worklist",
    "claim": "Claim",
    "claim_row": "Claim {item}",
    "release": "Give up the claim",
    "claimed_by": "Claimed by {who}",
    "claimed_by_you": "Claimed by you",
    "unclaimed": "Nobody has claimed this parcel.",
    "assigned_by": "assigned by {who}",
    "assign_to": "Assign to",
    "assign": "Assign",
    "assign_admin_only": "Only an administrator can assign a parcel to another officer.",
    "assign_unknown": "There is no officer account of that name.",
    "claim_override": "Claimed by {who}: recording an outcome releases their claim.",
    "claim_released_by_outcome": "{who}'s claim was released.",
    "claimed_by_other": "{who} has claimed this parcel already; ask them or an administrator.",
    "views_none": "Nobody has opened this explanation yet.",
    "views_count": (
        "The explanation was opened {n} times by {officers} user(s), last {last} (an "
        "officer's views within an hour count once); views are counted here, each is in the "
        "decision log."
    ),
    "views_count_one": (
        "The explanation was opened once, {last} (an officer's views within an hour count "
        "once); views are counted here, each is in the decision log."
    ),
    "keys_title": "Keyboard:",
    "keys_help": (
        "/ find a parcel; on a parcel: S then Enter seized (S asks first), C clean, R "
        "released, N next parcel, Q back to the worklist; in the worklist: J and K move "
        "between rows, Enter opens, S (then Enter), C, R record the row's outcome. Without "
        "scripts, the browser's access keys (Alt+Shift+letter, or Control+Option+letter) do "
        "the same, except a seizure: Tab to its button and press Enter."
    ),
    "mark_open": "○",
    "mark_seized": "■",
    "mark_clean": "✓",
    "mark_other_irregularity": "◆",
    "mark_released": "→",
    # explanation values
    "value_first_parcel": "first parcel",
    "value_no_inspections": "no inspections yet",
    "value_address_complete": "address complete",
    "value_none": "none",
    "value_unknown": "unknown",
    "no_eur_rate": "no EUR rate",
    # case record
    "case_title": "Case record",
    "case_saved": "The case record was saved.",
    "case_version": "Version {n}, saved by {officer}, {when}. Each save is kept.",
    "case_seal": "Seal or bag number",
    "case_concealment": "Concealment",
    "case_concealment_other": "Concealment, in words",
    "case_substance": "Substance",
    "case_gross": "Substance gross weight, in grams",
    "case_net": "Substance net weight, in grams",
    "case_lab": "Laboratory reference",
    "case_notes": "Notes",
    "case_choose": "Choose",
    "case_save": "Save the case record",
    "case_print": "Print the case record (one page)",
    "case_print_hint": "Print it, or save it as PDF, from the browser's Print menu.",
    "case_attachments": "Photos and scans",
    "case_no_attachments": "No photo or scan yet.",
    "case_attach_label": "Add a photo or scan (JPEG, PNG, WebP or PDF)",
    "case_attach": "Add",
    "case_attachment_added": "The photo or scan {name} was added to the case record.",
    "case_record_title": "Case record, parcel {item_id}",
    "case_record_printed": "Printed {when}",
    "case_parcel": "Parcel",
    "case_outcome": "Outcome",
    "case_no_outcome": "No outcome recorded yet.",
    "case_none": "No case record saved yet.",
    "case_recorded": "Recorded by",
    "case_signature_officer": "Officer's signature",
    "case_signature_witness": "Witness's signature",
    "case_problem_substance": "Choose the substance from the list.",
    "case_problem_substance_other": "Say which substance, in words, when you choose Other.",
    "case_problem_concealment": "Choose the concealment from the list.",
    "case_problem_gross_g": "Gross weight: a number of grams, such as 12.5 or 12,5.",
    "case_problem_net_g": "Net weight: a number of grams, such as 10.2 or 10,2.",
    "case_problem_net_over_gross": "The net weight cannot be more than the gross weight.",
    "case_problem_too_long": "{field}: at most {limit} characters; this has {length}. Shorten "
    "it: nothing was saved.",
    "case_problem_attachment_empty": "Choose a file to add.",
    "case_problem_attachment_size": "The file is too large: at most {limit}.",
    "case_problem_attachment_type": "Only JPEG, PNG or WebP photos and PDF scans can be added.",
    "not_found_attachment": "No such photo or scan of this parcel.",
    "substance_cannabis": "Cannabis",
    "substance_cocaine": "Cocaine",
    "substance_heroin": "Heroin",
    "substance_mdma": "MDMA (ecstasy)",
    "substance_amphetamine": "Amphetamine",
    "substance_methamphetamine": "Methamphetamine",
    "substance_ketamine": "Ketamine",
    "substance_lsd": "LSD",
    "substance_psilocybin": "Psilocybin (mushrooms)",
    "substance_benzodiazepines": "Benzodiazepines",
    "substance_opioid_medicines": "Opioid medicines",
    "substance_new_psychoactive": "New psychoactive substance",
    "substance_other": "Other",
    "concealment_none": "Not concealed",
    "concealment_inside_goods": "Inside the declared goods",
    "concealment_vacuum_sealed": "Vacuum-sealed",
    "concealment_packaging": "In the packaging or lining",
    "concealment_documents": "In documents, cards or letters",
    "concealment_media_case": "In a DVD, CD or game case",
    "concealment_food_cosmetics": "In food or cosmetics",
    "concealment_other": "Other",
    "media_image/jpeg": "JPEG photo",
    "media_image/png": "PNG image",
    "media_image/webp": "WebP photo",
    "media_application/pdf": "PDF",
    # model health in the worklist
    "alarm_title": "Model health:",
    "alarm_todo": "What to do:",
    "alarm_more": "Details on the model page",
    "alarm_drift": (
        "the parcels of the last 24 hours ({parcels} compared) differ from those of the same "
        "hours in the four weeks before ({before} compared): {score}; declaration fields that "
        "moved: {features}. The chances the model gives may be off."
    ),
    "alarm_drift_score": "their scores moved (shift index {psi})",
    "alarm_drift_no_score": "their scores did not move beyond the alarm level",
    "alarm_drift_todo": (
        "keep working the worklist and record every outcome, random-control parcels "
        "included (they measure the model); tell the model's owner, who decides whether to "
        "retrain or halt it."
    ),
    "alarm_no_model": "no model is loaded: parcels are selected by rules and random control.",
    "alarm_no_model_todo": "tell an administrator; keep recording outcomes.",
    # model page
    "metrics_n": "{n} parcels, {positives} seizures",
    "metrics_note": (
        "Precision: the share of opened parcels that held drugs; recall: the share of all "
        "drug parcels that were opened; each at the share of the flow opened."
    ),
    "sample_too_small": ("Too few seizures ({n}) to rely on these figures: each could be far off."),
    "drift_too_small": (
        "Too little history to measure drift yet, so no alarm: {current} parcels scored in "
        "the last {hours} hours and {reference} in the same hours of the {weeks} weeks "
        "before; at least {needed} are needed in each."
    ),
    "drift_state_alert": (
        "Drift alarm: the last day's parcels differ from the same hours of the weeks before."
    ),
    "drift_state_ok": (
        "No drift alarm: the last day's parcels look like the same hours of the weeks before."
    ),
    "drift_windows": "{current} in the last day, {reference} in the weeks before",
    "drift_reading_alert": "moved beyond the alarm level (shift index {psi})",
    "drift_reading_ok": "not beyond the alarm level",
    "shadow_too_small": (
        "Too few outcomes to compare the two models ({n} inspected, {seizures} seizures): "
        "the figures below could be chance."
    ),
    # shift report
    "report_title": "Shift report",
    "report_period": "Period",
    "report_from": "From",
    "report_to": "To",
    "report_show": "Show",
    "report_summary": "Parcels opened and found, {first} to {last}",
    "report_scored": "Parcels scored in the period",
    "report_flagged": "{n} flagged",
    "report_capacity": "Inspection capacity",
    "report_slots": "{n} parcels ({share} of the flow)",
    "report_opened": "Opened",
    "report_capacity_used": "{share} of the capacity",
    "report_found": "Drugs found",
    "report_clean": "Clean",
    "report_hit_rate": "Hit rate",
    "report_none": "nothing opened",
    "report_released": "Released without inspection",
    "report_lift": "Model against random control",
    "report_lift_value": (
        "the model's parcels held drugs {model} of the time, random control {random}: "
        "{lift} times as often"
    ),
    "report_lift_none": "no random-control parcel was opened with drugs found, so no comparison",
    "report_small": "Only {n} random-control parcels were opened: a rough figure.",
    "report_by_selection": "By reason of selection",
    "report_by_officer": "By officer",
    "report_note": (
        "Counts each parcel's current outcome recorded in the period (a corrected one once). "
        "Random-control parcels are drawn at random: their hit rate is the share of drug "
        "parcels in the flow, the yardstick of the model's."
    ),
    # CSV columns
    "csv_weight_kg": "Gross weight (kg)",
    "csv_value": "Declared value",
    "csv_currency": "Currency",
    "csv_value_eur": "Value (EUR)",
    "csv_manifest_rank": "Rank on the manifest's list",
    "csv_outcome_id": "Record",
    "csv_received": "Received at",
    "csv_by": "Account",
    "csv_outcome": "Outcome",
    "csv_substance": "Substance",
    "csv_quantity_g": "Net weight (g)",
    "csv_corrects": "Corrects record",
    "csv_correction_reason": "Reason for the correction",
    "csv_standing": "Standing",
    # values
    "kind_decision": "Scored",
    "kind_outcome": "Outcome recorded",
    "kind_outcome_correction": "Outcome corrected",
    "kind_outcome_correction_pending": "Correction asked (waiting for approval)",
    "kind_outcome_correction_approved": "Correction approved",
    "kind_explanation_viewed": "Explanation viewed",
    "kind_officer_feedback": "Officer note",
    "kind_case_record": "Case record saved",
    "kind_case_attachment": "Photo or scan added",
    "kind_parcel_claimed": "Claimed",
    "kind_parcel_assigned": "Assigned",
    "kind_parcel_released": "Claim given up",
    "kind_exchange_match": "Partner seizure matched",
    "kind_exchange_request_prepared": "Follow-up request prepared",
    "kind_exchange_request_approved": "Follow-up request approved",
    "log_exchange_match": "Reference {refs} reported by {partners}",
    "log_exchange_request": "Request {id} to {source} about reference {ref}",
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
    "selection_review": "Review",
    "status_open": "Open",
    "status_done": "Any outcome",
    "status_seized": "Seized",
    "status_clean": "Clean",
    "status_other_irregularity": "Other irregularity",
    "status_released": "Released without inspection",
    "status_inspected": "Inspected",
    "status_closed": "Released without inspection",
    "category_gift": "Gift",
    "category_documents": "Documents",
    "category_commercial_sample": "Commercial sample",
    "category_returned_goods": "Returned goods",
    "category_sale_of_goods": "Sale of goods",
    "category_other": "Other",
    "mail_class_ems": "EMS (express mail)",
    "mail_class_registered_letter": "Registered letter",
    "mail_class_letter_express": "Express letter",
    "mail_class_insured_letter": "Insured letter",
    "mail_class_parcel": "Parcel",
    "mail_class_ecommerce_parcel": "E-commerce parcel",
    "mail_class_m_bag": "M-bag (printed matter)",
    "mail_class_letter_misc": "Letter",
    "mail_class_domestic_or_bilateral": "Domestic or bilateral item",
    "mail_class_express_consignment": "Express consignment",
    "mode_model": "Selected by the model",
    "mode_halted-fallback": "Model halted: rules and random control",
    "role_officer": "officer",
    "role_admin": "administrator",
    "sample_random_control": "Random-control parcels",
    "sample_inspected_ipw": "All inspected parcels, reweighted",
    "sample_truth": "Simulated truth",
    "logged_seized": "Seized",
    "logged_clean": "Clean",
    "logged_other_irregularity": "Other irregularity",
    "logged_not_inspected": "Released without inspection",
    "logged_inspect": "Inspect",
    "logged_review": "Review",
    "logged_pass": "Pass",
    "logged_disagree": "Disagrees with the model",
    "logged_note": "Note",
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
    "field_weight": "Gross weight",
    "field_contents": "Declared contents",
    "field_mail_class": "Mail class",
    "field_carrier": "Express carrier",
    "field_house_consignment": "House consignment number",
    "field_transport_document": "Master transport document",
    "field_value": "Declared value",
    "field_charges": "Postal charges",
    "field_sender": "Sender",
    "field_recipient": "Recipient",
    "lines": "Content lines",
    "line_description": "Description",
    "line_quantity": "Quantity",
    "line_weight": "Net weight",
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
        "The chance of a seizure, from the average parcel ({base}) to this one ({final}): "
        "each bar is what one part of the declaration adds or takes away, in percentage "
        "points, largest first; the history of the sender, recipient, their addresses and "
        "the posting office is always shown when it moves the chance. The steps add up to the "
        "chance at the top of the page."
    ),
    "waterfall_other_note": "{n} other factors together: {delta}.",
    "waterfall_title": "Explanation waterfall for {item_id}",
    "waterfall_base": "Average parcel",
    "waterfall_final": "This parcel",
    "waterfall_other": "Other factors together",
    "reasons": "Reasons in plain language",
    "reason_up": "raises the risk",
    "reason_down": "lowers the risk",
    "points": "percentage points",
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
    "outcome_substance": "Substance",
    "outcome_substance_none": "Choose the substance",
    "outcome_substance_other": "Substance, if other (in words)",
    "outcome_quantity": "Net weight of the substance, in grams",
    "outcome_seized_fields": "For a seizure only: what was found and how much.",
    "outcome_choice": "Outcome",
    "outcome_seized": "Seized: drugs found",
    "outcome_clean": "Clean: inspected, nothing found",
    "outcome_other_irregularity": "Other irregularity found (no drugs)",
    "outcome_released": "Released without inspection",
    "outcome_submit_next": "Save and go to the next parcel",
    "outcome_notes": "Notes",
    "outcome_disagree": "I disagree with the model",
    "outcome_disagree_reason": "Why do you disagree?",
    "outcome_submit": "Save",
    "outcome_choose": "Choose the result",
    "outcome_errors_above": "The outcome was not recorded: see the form below.",
    # what an officer reads for a problem with the outcome form (by field)
    "outcome_problem_inspected": "Say whether the parcel was inspected.",
    "outcome_problem_outcome": (
        "Choose the outcome: seized, clean, other irregularity, or released without inspection."
    ),
    "outcome_problem_result": "Choose the result of the inspection.",
    "outcome_problem_quantity_g": (
        "Quantity in grams: enter a number above 0, such as 1.5 or 1,5, without a thousands "
        "separator (1500, not 1,500)."
    ),
    "outcome_problem_substance": "Substance: at most 60 characters.",
    "outcome_problem_seized_only": (
        "A substance and its weight are recorded only for a seizure: clear them, or choose "
        '"Seized: drugs found".'
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
    "outcome_unchanged": (
        "This parcel is already recorded as {result}: a correction must change the outcome "
        "(the result, the substance or the quantity). Nothing was recorded."
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
    "drift": "Are recent parcels like the ones the model learned from?",
    "drift_intro": (
        "The same check as the worklist's alarm: the scores and declaration fields of the "
        "parcels of the last day against those of the same hours of the four weeks before. "
        "It alarms only on a shift that is both sure and large. The calendar is not "
        "compared, and history counts only as whether a sender or recipient has any "
        "(counts grow with time and would always seem to move)."
    ),
    "drift_none": "No model is loaded: nothing to measure.",
    "drift_score": "Scores",
    "drift_parcels": "Parcels compared",
    "drift_alert": "Declaration fields that moved beyond the alarm level",
    "drift_ok": "None beyond the alarm level.",
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
    "shadow_auc": "Ranking quality (ROC AUC: 0.5 is chance, 1 perfect)",
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
