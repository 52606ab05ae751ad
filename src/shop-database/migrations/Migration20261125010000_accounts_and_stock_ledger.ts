import { Migration } from "@mikro-orm/migrations";

export class Migration20261125010000_accounts_and_stock_ledger extends Migration {
  override up(): void {
    this.addSql(`
      create table "app_user" (
        "id" uuid not null,
        "email" varchar(254) not null,
        "email_normalized" varchar(254) not null,
        "display_name" varchar(100) not null,
        "password_hash" varchar(255) not null,
        "role" varchar(16) not null,
        "created_at" timestamptz not null default now(),
        "updated_at" timestamptz not null default now(),
        constraint "app_user_pkey" primary key ("id"),
        constraint "app_user_email_normalized_unique" unique ("email_normalized"),
        constraint "app_user_role_check" check (role in ('customer', 'admin'))
      );`);
    this.addSql(`
      create table "login_throttle" (
        "email_normalized" varchar(254) not null,
        "failures" int not null,
        "last_failure_at" timestamptz not null,
        "locked_until" timestamptz null,
        constraint "login_throttle_pkey" primary key ("email_normalized")
      );`);
    this.addSql(`
      create table "stock_movement" (
        "id" uuid not null,
        "product_id" uuid not null,
        "delta" int not null,
        "reason" varchar(200) not null,
        "stock_on_hand_after" int not null,
        "request_id" varchar(64) null,
        "created_at" timestamptz not null default now(),
        constraint "stock_movement_pkey" primary key ("id"),
        constraint "stock_movement_request_unique" unique ("request_id"),
        constraint "stock_movement_product_id_foreign" foreign key ("product_id") references "product" ("id")
      );`);
    this.addSql(`create index "stock_movement_product_index" on "stock_movement" ("product_id");`);
    // Products created before the ledger existed get their stock as an opening balance.
    this.addSql(`
      insert into "stock_movement" ("id", "product_id", "delta", "reason", "stock_on_hand_after")
      select gen_random_uuid(), "id", "stock_on_hand", 'opening balance', "stock_on_hand"
      from "product" where "stock_on_hand" <> 0;`);
  }
}
