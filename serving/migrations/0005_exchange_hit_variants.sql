-- Which variants of a parcel's parties matched each partner reference (screening/exchange/
-- _followup.py): the officer's page lists them on the reference's one row.
ALTER TABLE exchange_hits ADD COLUMN variants TEXT;
