-- Seed the generated billing server's PostgreSQL database for the load
-- test: the PostgreSQL twin of bench/seed_invoices.py.
--
--   psql -At -v per_user=N -v alice=CUSTOMER_ID -v bob=CUSTOMER_ID -f bench/seed_invoices.sql DB
--
-- Run as the connecting superuser (row-level security does not bind it)
-- after the server created its schema (it migrates on start). Inserts
-- per_user invoices for alice and for bob (the JWT `sub` the server stores
-- in owner_id), each referring to that owner's customer, in the columns of
-- migrations/postgres/0001_init.sql: random UUID ids, timestamptz one
-- second apart from 2026-01-01, numbers unique per owner. Prints, per
-- owner, OWNER_ID=<id of the owner's middle invoice>.
\set ON_ERROR_STOP 1
BEGIN;
INSERT INTO "invoice" ("id", "owner_id", "number", "amount_cents", "currency", "customer",
                       "paid", "issued_on", "notes", "created_at", "updated_at")
SELECT gen_random_uuid(), o.owner, upper(left(o.owner, 1)) || '-' || lpad(i::text, greatest(6, length(i::text)), '0'), 1000 + i,
       'EUR', o.customer, i % 3 = 0, NULL, 'seeded invoice ' || i || ' for ' || o.owner, t, t
FROM (VALUES ('alice', :'alice'::uuid), ('bob', :'bob'::uuid)) AS o(owner, customer),
     generate_series(0, :per_user - 1) AS i,
     LATERAL (SELECT timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second') AS ts(t);
COMMIT;
ANALYZE "invoice";
SELECT upper(o.owner) || '_ID=' || (SELECT "id" FROM "invoice" WHERE "owner_id" = o.owner
                                     AND "number" = upper(left(o.owner, 1)) || '-' || lpad((:per_user / 2)::text, greatest(6, length((:per_user / 2)::text)), '0'))
FROM (VALUES ('alice'), ('bob')) AS o(owner);
