import { Migration } from "@mikro-orm/migrations";

export class Migration20261125000000_products extends Migration {
  override up(): void {
    this.addSql(`
      create table "product" (
        "id" uuid not null,
        "sku" varchar(64) not null,
        "name" varchar(200) not null,
        "description" text not null default '',
        "unit_price_minor" bigint not null,
        "currency_code" char(3) not null,
        "stock_on_hand" int not null default 0,
        "stock_reserved" int not null default 0,
        "version" int not null default 1,
        "created_at" timestamptz not null default now(),
        "updated_at" timestamptz not null default now(),
        constraint "product_pkey" primary key ("id"),
        constraint "product_sku_unique" unique ("sku"),
        constraint "product_unit_price_minor_check" check ("unit_price_minor" >= 0),
        constraint "product_stock_check" check ("stock_reserved" >= 0 and "stock_on_hand" >= "stock_reserved")
      );`);
  }
}
