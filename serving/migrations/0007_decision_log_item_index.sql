-- The decision log by item (serving/officer/_parcel_routes.py note_view: one "viewed" record
-- per officer, parcel and hour; serving/batch/_record.py: a resumed run's decisions already
-- on record; the parcel page's log). state.sqlite has made this index on first use since the
-- officer's view records; here it was missing, so each of those looked through the whole log.
-- Built under the upgrade's transaction: writes to the log wait for it.
CREATE INDEX decision_log_item ON decision_log (item_id);
