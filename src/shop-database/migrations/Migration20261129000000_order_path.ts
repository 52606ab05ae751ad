import { Migration } from "@mikro-orm/migrations";

export class Migration20261129000000_order_path extends Migration {
  override up(): void {
    // Lists page by (name, id) and (created_at, id): indexes in those orders serve every page.
    this.addSql(`create index "product_name_index" on "product" ("name", "id");`);
    this.addSql(`create index "customer_order_created_index" on "customer_order" ("created_at", "id");`);
    this.addSql(
      `create index "customer_order_customer_created_index" on "customer_order" ("customer_id", "created_at", "id");`,
    );
    this.addSql(
      `create index "customer_order_cancelling_index" on "customer_order" ("cancel_requested_at")
       where cancel_requested_at is not null and state in ('paid', 'fulfilled');`,
    );
    // Its first column serves what the single-column index did.
    this.addSql(`drop index "customer_order_customer_index";`);
    this.addSql(`alter table "customer_order" add column "number" bigserial;`);
    this.addSql(`alter table "customer_order" add constraint "customer_order_number_unique" unique ("number");`);
    this.addSql(`
      create table "order_event" (
        "id" bigserial,
        "order_id" uuid not null,
        "kind" varchar(16) not null,
        "created_at" timestamptz not null default now(),
        constraint "order_event_pkey" primary key ("id"),
        constraint "order_event_once_unique" unique ("order_id", "kind"),
        constraint "order_event_order_id_foreign" foreign key ("order_id") references "customer_order" ("id"),
        constraint "order_event_kind_check" check (kind in ('paid', 'cancelled'))
      );`);
  }
}
