-- The replay lookup (serving/_audit.py, DecisionLog.input_hashes): a request sent again under
-- its X-Request-ID has its declarations held against the input hashes recorded under that ID,
-- found by request ID and item through this index instead of a read of the whole log per
-- retry. state.sqlite makes the same index when it opens. Built under the upgrade's
-- transaction (CREATE INDEX CONCURRENTLY cannot run in one): writes to the log wait for it.
CREATE INDEX decision_log_request ON decision_log (request_id, item_id);
