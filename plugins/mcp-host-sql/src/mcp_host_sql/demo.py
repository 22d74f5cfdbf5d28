"""The embedded demo database: a small shop in SQLite, built fresh at start.

It is generated from a fixed seed, so every start serves the same rows: customers, products
in categories, orders and their lines, with foreign keys and indexes for describe_table.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE categories (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE
);
CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    category_id INTEGER NOT NULL REFERENCES categories(id),
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    in_stock    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    city        TEXT NOT NULL,
    country     TEXT NOT NULL,
    joined_on   TEXT NOT NULL
);
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    placed_at   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('placed', 'shipped', 'delivered', 'cancelled'))
);
CREATE TABLE order_items (
    order_id    INTEGER NOT NULL REFERENCES orders(id),
    product_id  INTEGER NOT NULL REFERENCES products(id),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX orders_by_customer ON orders(customer_id);
CREATE INDEX products_by_category ON products(category_id);
CREATE VIEW order_totals AS
    SELECT o.id AS order_id, o.customer_id, o.placed_at, o.status,
           SUM(i.quantity * i.price_cents) AS total_cents
    FROM orders o JOIN order_items i ON i.order_id = o.id
    GROUP BY o.id;
"""

CATALOG = {
    "Coffee": [
        ("Ethiopia Yirgacheffe, 250 g", 1450),
        ("Colombia Huila, 250 g", 1290),
        ("Espresso blend, 1 kg", 3900),
        ("Decaf Swiss water, 250 g", 1350),
    ],
    "Brewing": [
        ("Pour-over dripper", 2400),
        ("Paper filters, 100 pack", 650),
        ("Gooseneck kettle", 5900),
        ("French press, 1 l", 3400),
        ("Hand grinder", 7900),
    ],
    "Tea": [
        ("Darjeeling first flush, 100 g", 1800),
        ("Sencha, 100 g", 1200),
        ("Earl Grey, 100 g", 950),
    ],
    "Accessories": [
        ("Ceramic mug", 1600),
        ("Travel tumbler", 2600),
        ("Milk frother", 3100),
        ("Digital scale", 2900),
    ],
}

FIRST = [
    "Ada",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elena",
    "Farah",
    "Gustav",
    "Hana",
    "Ivan",
    "Jonas",
    "Keiko",
    "Lucia",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sami",
    "Tereza",
]
LAST = [
    "Lindqvist",
    "Moreau",
    "Rossi",
    "Novak",
    "Okafor",
    "Tanaka",
    "Schmidt",
    "Haddad",
    "Kowalski",
    "Fernandes",
    "Jensen",
    "Dubois",
]
CITIES = [
    ("Lisbon", "PT"),
    ("Lyon", "FR"),
    ("Turin", "IT"),
    ("Brno", "CZ"),
    ("Aarhus", "DK"),
    ("Leipzig", "DE"),
    ("Osaka", "JP"),
    ("Porto", "PT"),
    ("Gdansk", "PL"),
]
STATUSES = ["delivered"] * 6 + ["shipped"] * 2 + ["placed", "cancelled"]


def build(path: Path) -> None:
    """Create the demo database at ``path`` (which must not exist yet)."""
    rng = random.Random(20260728)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(SCHEMA)
        product_ids: list[tuple[int, int]] = []
        for category_id, (category, products) in enumerate(CATALOG.items(), 1):
            conn.execute("INSERT INTO categories VALUES (?, ?)", (category_id, category))
            for name, price in products:
                cursor = conn.execute(
                    "INSERT INTO products (sku, name, category_id, price_cents, in_stock) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        f"{category[:3].upper()}-{len(product_ids) + 101}",
                        name,
                        category_id,
                        price,
                        rng.randrange(0, 80),
                    ),
                )
                product_ids.append((int(cursor.lastrowid or 0), price))
        start = dt.date(2025, 1, 6)
        for customer_id in range(1, 31):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            city, country = rng.choice(CITIES)
            joined = start + dt.timedelta(days=rng.randrange(0, 300))
            conn.execute(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)",
                (
                    customer_id,
                    f"{first} {last}",
                    f"{first}.{last}{customer_id}@example.com".lower(),
                    city,
                    country,
                    joined.isoformat(),
                ),
            )
        for order_id in range(1, 121):
            customer_id = rng.randrange(1, 31)
            placed = dt.datetime(2025, 11, 1, 9) + dt.timedelta(
                minutes=rng.randrange(0, 60 * 24 * 300)
            )
            conn.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?)",
                (order_id, customer_id, placed.isoformat(timespec="minutes"), rng.choice(STATUSES)),
            )
            for product_id, price in rng.sample(product_ids, rng.randrange(1, 4)):
                conn.execute(
                    "INSERT INTO order_items VALUES (?, ?, ?, ?)",
                    (order_id, product_id, rng.randrange(1, 4), price),
                )
        conn.commit()
    finally:
        conn.close()
