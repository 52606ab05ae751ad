import { Migration } from "@mikro-orm/migrations";

export class Migration20261125030000_orders extends Migration {
  override up(): void {
    this.addSql(`
      create table "customer_order" (
        "id" uuid not null,
        "customer_id" uuid not null,
        "request_id" varchar(64) not null,
        "request_fingerprint" varchar(64) not null,
        "state" varchar(24) not null,
        "currency_code" char(3) not null,
        "subtotal_minor" bigint not null,
        "total_minor" bigint not null,
        "card_brand" varchar(16) not null,
        "card_last4" char(4) not null,
        "charge_id" varchar(64) null,
        "refund_id" varchar(64) null,
        "failure_code" varchar(32) null,
        "cancel_requested_at" timestamptz null,
        "created_at" timestamptz not null default now(),
        "updated_at" timestamptz not null default now(),
        constraint "customer_order_pkey" primary key ("id"),
        constraint "customer_order_request_unique" unique ("customer_id", "request_id"),
        constraint "customer_order_customer_id_foreign" foreign key ("customer_id") references "app_user" ("id"),
        constraint "customer_order_state_check"
          check (state in ('pending_payment', 'paid', 'fulfilled', 'payment_failed', 'cancelled'))
      );`);
    this.addSql(`create index "customer_order_customer_index" on "customer_order" ("customer_id");`);
    this.addSql(`create index "customer_order_pending_index" on "customer_order" ("state", "updated_at");`);
    this.addSql(`
      create table "order_line" (
        "id" uuid not null,
        "order_id" uuid not null,
        "position" int not null,
        "product_id" uuid not null,
        "sku" varchar(64) not null,
        "product_name" varchar(200) not null,
        "quantity" int not null,
        "unit_price_minor" bigint not null,
        "line_total_minor" bigint not null,
        constraint "order_line_pkey" primary key ("id"),
        constraint "order_line_position_unique" unique ("order_id", "position"),
        constraint "order_line_order_id_foreign" foreign key ("order_id") references "customer_order" ("id"),
        constraint "order_line_product_id_foreign" foreign key ("product_id") references "product" ("id")
      );`);
    this.addSql(`create index "order_line_product_index" on "order_line" ("product_id");`);
  }
}
