//! Specs of the migration tests, shared by the SQLite tests (`migrate`'s
//! unit tests) and the PostgreSQL ones (`tests/postgres_migrations.rs`,
//! which includes this file), so both engines migrate the same changes.

/// Everything of a spec but its resources.
pub const BASE: &str = "palisade: 1\nservice: { name: shop }\nauth: { jwt: { algorithm: HS256, secret_env: JWT_SECRET }, roles_claim: roles }\nroles: [admin]\nresources:\n";

/// Customers and their invoices, owned.
pub const V1: &str = "  customer:\n    owner: owner_id\n    fields:\n      name: { type: string, required: true }\n      email: { type: email }\n  invoice:\n    owner: owner_id\n    fields:\n      number: { type: string, required: true }\n      notes: { type: string }\n      amount: { type: integer }\n      customer: { type: ref, resource: customer, required: true }\n";

/// A public catalogue and orders that name its products.
pub const SHOP: &str = "  product:\n    owner: none\n    access: { public: [list, get], roles: { admin: [list, get, create, update, delete] } }\n    fields: { title: { type: string } }\n  order:\n    owner: owner_id\n    fields:\n      product: { type: ref, resource: product, required: true }\n      placed: { type: date }\n      count: { type: integer }\n";

/// Three specs after [`V1`] that make every kind of change between them.
/// v2: a renamed field (`notes` to `memo`) and resource (`customer` to
/// `client`), optional and required fields added (with a `default`, with
/// a `backfill`), a type widened (`amount` to a number), a new unique
/// index. v3: a field dropped, a required field made optional, new tables
/// (one unowned, one whose ref makes `invoice` referenced: a new key).
/// v4: both tables dropped again, and the ref of `invoice` to `client`
/// (neither is referenced any more).
pub fn every_kind_of_change() -> [String; 3] {
    let v2 = V1
        .replace("      notes: { type: string }\n", "      memo: { type: string, renamed_from: notes }\n      due: { type: date }\n      status: { type: string, required: true, default: open }\n")
        .replace("      amount: { type: integer }\n", "      amount: { type: number }\n")
        .replace("  customer:\n", "  client:\n    renamed_from: customer\n")
        .replace("resource: customer", "resource: client")
        .replace("      email: { type: email }\n", "      email: { type: email, unique: per_owner }\n      tier: { type: string, required: true, backfill: basic }\n");
    let v3 = v2.replace("      due: { type: date }\n", "").replace(
        "      name: { type: string, required: true }\n",
        "      name: { type: string }\n",
    );
    let v4 = v3.replace(
        "      customer: { type: ref, resource: client, required: true }\n",
        "",
    );
    let v3 = v3
        + "  note:\n    owner: none\n    access: { roles: { admin: [list, get, create] } }\n    fields: { text: { type: string } }\n  payment:\n    owner: owner_id\n    fields:\n      invoice: { type: ref, resource: invoice, required: true }\n      paid: { type: number }\n";
    [v2, v3, v4]
}

/// Specs after [`V1`] whose migration checks the rows that exist, with
/// the reason it fails with when one breaks the check: a field made
/// required, a field made unique, a type narrowed, a required field added
/// without a value.
pub fn checked_changes() -> [(String, &'static str); 4] {
    [
        (
            V1.replace(
                "      notes: { type: string }\n",
                "      notes: { type: string, required: true }\n",
            ),
            "every row of `invoice` must have a `notes`",
        ),
        (
            V1.replace(
                "      number: { type: string, required: true }\n",
                "      number: { type: string, required: true, unique: per_owner }\n",
            ),
            "no two rows of `invoice` may share `owner_id`, `number`",
        ),
        (
            V1.replace(
                "      notes: { type: string }\n",
                "      notes: { type: integer }\n",
            ),
            "every `notes` of `invoice` must be a integer",
        ),
        (
            V1.replace(
                "      amount: { type: integer }\n",
                "      amount: { type: integer }\n      due: { type: date, required: true }\n",
            ),
            "`invoice` must have no rows",
        ),
    ]
}
