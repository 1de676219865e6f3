#!/usr/bin/env python3
"""Seed the generated billing server's SQLite database for the load test.

  seed_invoices.py DB PER_USER OWNER:CUSTOMER_ID [OWNER:CUSTOMER_ID ...]

Inserts PER_USER invoices for each owner (the JWT `sub` the server stores in
`owner_id`), each referring to that owner's customer, with the columns and
formats the generated store writes: random UUID ids, RFC 3339 UTC
timestamps with milliseconds, numbers unique per owner. The server must
have created the schema first (it migrates on start). Prints, per owner,
OWNER_ID=<id of the owner's middle invoice>.
"""
import datetime
import sqlite3
import sys
import uuid


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    db, per_user = argv[1], int(argv[2])
    pairs = [a.split(":", 1) for a in argv[3:]]
    con = sqlite3.connect(db, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    with con:
        for owner, customer in pairs:
            rows, mid = [], None
            for i in range(per_user):
                t = start + datetime.timedelta(seconds=i)
                ts = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
                rid = str(uuid.uuid4())
                if i == per_user // 2:
                    mid = rid
                rows.append((rid, owner, f"{owner[:1].upper()}-{i:06d}", 1000 + i, "EUR", customer,
                             i % 3 == 0, None, f"seeded invoice {i} for {owner}", ts, ts))
            con.executemany(
                'INSERT INTO "invoice" ("id", "owner_id", "number", "amount_cents", "currency", "customer",'
                ' "paid", "issued_on", "notes", "created_at", "updated_at")'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            print(f"{owner.upper()}_ID={mid}")
    counts = dict(con.execute('SELECT "owner_id", COUNT(*) FROM "invoice" GROUP BY "owner_id"').fetchall())
    print(f"# rows per owner: {counts}", file=sys.stderr)
    con.close()


if __name__ == "__main__":
    main(sys.argv)
