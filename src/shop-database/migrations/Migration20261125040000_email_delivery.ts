import { Migration } from "@mikro-orm/migrations";

export class Migration20261125040000_email_delivery extends Migration {
  override up(): void {
    this.addSql(`
      create table "email_delivery" (
        "order_id" uuid not null,
        "kind" varchar(16) not null,
        "message_id" varchar(255) not null,
        "sent_at" timestamptz not null,
        constraint "email_delivery_pkey" primary key ("order_id", "kind"),
        constraint "email_delivery_order_id_foreign" foreign key ("order_id") references "customer_order" ("id")
      );`);
  }
}
