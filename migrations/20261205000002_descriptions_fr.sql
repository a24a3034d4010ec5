-- French descriptions of the reference data, beside the English ones. NULL
-- (a city or attraction nobody has written French for yet) is served in
-- English; `migrate --seed` fills them from shared/data/descriptions-fr.json.
ALTER TABLE cities ADD COLUMN description_fr TEXT;
ALTER TABLE attractions ADD COLUMN description_fr TEXT;
