-- Per partner, the created time of the last exchange bundle imported (screening/exchange/
-- _store.py): a bundle created at or before it is refused, so an older or replayed bundle
-- never replaces newer indicators.
CREATE TABLE exchange_bundles (
    source TEXT PRIMARY KEY, created TEXT NOT NULL, bundle TEXT NOT NULL);
