import { Migration20261125000000_products } from "./migrations/Migration20261125000000_products.js";
import { Migration20261125010000_accounts_and_stock_ledger } from "./migrations/Migration20261125010000_accounts_and_stock_ledger.js";
import { Migration20261125030000_orders } from "./migrations/Migration20261125030000_orders.js";
import { Migration20261125040000_email_delivery } from "./migrations/Migration20261125040000_email_delivery.js";
import { Migration20261129000000_order_path } from "./migrations/Migration20261129000000_order_path.js";
import { Migration20261201000000_order_event_origin } from "./migrations/Migration20261201000000_order_event_origin.js";
import { Migration20261207000000_request_key_order } from "./migrations/Migration20261207000000_request_key_order.js";

/**
 * The shop's migrations in the order they apply. Listed explicitly, not globbed, so the same
 * list works from TypeScript sources and from the compiled image.
 */
export const shopMigrations = [
  { name: "Migration20261125000000_products", class: Migration20261125000000_products },
  {
    name: "Migration20261125010000_accounts_and_stock_ledger",
    class: Migration20261125010000_accounts_and_stock_ledger,
  },
  { name: "Migration20261125030000_orders", class: Migration20261125030000_orders },
  { name: "Migration20261125040000_email_delivery", class: Migration20261125040000_email_delivery },
  { name: "Migration20261129000000_order_path", class: Migration20261129000000_order_path },
  { name: "Migration20261201000000_order_event_origin", class: Migration20261201000000_order_event_origin },
  { name: "Migration20261207000000_request_key_order", class: Migration20261207000000_request_key_order },
];
