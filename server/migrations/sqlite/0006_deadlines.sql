-- Every running deadline of a case (JSON: [{"kind", "item", "start", "due"}]), written with
-- the projection, so the warning scanner sees installments due beside the nearest deadline.
ALTER TABLE cases ADD COLUMN deadlines TEXT;
