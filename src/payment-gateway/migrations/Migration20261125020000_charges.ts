import { Migration } from "@mikro-orm/migrations";

export class Migration20261125020000_charges extends Migration {
  override up(): void {
    this.addSql(`create schema if not exists "payment";`);
    this.addSql(`
      create table "payment"."charge" (
        "id" varchar(27) not null,
        "idempotency_key" varchar(255) not null,
        "request_fingerprint" varchar(64) not null,
        "amount_minor" bigint not null,
        "currency_code" char(3) not null,
        "status" varchar(16) not null,
        "decline_code" varchar(32) null,
        "card_brand" varchar(16) not null,
        "card_last4" char(4) not null,
        "card_exp_month" int not null,
        "card_exp_year" int not null,
        "description" varchar(500) not null,
        "amount_refunded_minor" bigint not null default '0',
        "created_at" timestamptz not null default now(),
        constraint "charge_pkey" primary key ("id"),
        constraint "charge_idempotency_key_unique" unique ("idempotency_key"),
        constraint "charge_status_check" check (status in ('succeeded', 'declined')),
        constraint "charge_refund_check" check (amount_refunded_minor >= 0 and amount_refunded_minor <= amount_minor)
      );`);
    this.addSql(`
      create table "payment"."refund" (
        "id" varchar(27) not null,
        "charge_id" varchar(27) not null,
        "idempotency_key" varchar(255) not null,
        "request_fingerprint" varchar(64) not null,
        "amount_minor" bigint not null,
        "created_at" timestamptz not null default now(),
        constraint "refund_pkey" primary key ("id"),
        constraint "refund_idempotency_key_unique" unique ("idempotency_key"),
        constraint "refund_charge_id_foreign" foreign key ("charge_id") references "payment"."charge" ("id")
      );`);
    this.addSql(`create index "refund_charge_index" on "payment"."refund" ("charge_id");`);
  }
}
