import { Migration } from "@mikro-orm/migrations";

export class Migration20261201000000_order_event_origin extends Migration {
  override up(): void {
    // What an event's email carries from the call that caused it: its correlation id (logs)
    // and W3C traceparent (the trace). Null for events of work no call started (recovery).
    this.addSql(
      `alter table "order_event" add column "correlation_id" varchar(128) null, add column "traceparent" varchar(55) null;`,
    );
  }
}
