-- The officer copy keeps an express consignment's master transport document (worklists by
-- flight), as serving/officer/_parcels.py adds it to state.sqlite.
ALTER TABLE officer_parcel ADD COLUMN transport_document TEXT;
CREATE INDEX officer_parcel_transport ON officer_parcel (transport_document)
    WHERE transport_document IS NOT NULL;
