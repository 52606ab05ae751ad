import { describe, expect, it } from "vitest";
import { summaryOf } from "../../src/telemetry/query-summary.js";

describe("a statement's span name", () => {
  it.each([
    ['select "id", "role" from "app_user" where "id" = $1', "SELECT app_user"],
    [
      'with "stock" as (select "id" from "product"), "placed" as (insert into "customer_order" select * from "stock") select * from "placed" join "order_line" on true',
      "WITH customer_order, order_line, product",
    ],
    ["select count(*) from graphile_worker.jobs where task_identifier = $1", "SELECT graphile_worker.jobs"],
    ["select extract(epoch from now() - min(created_at)) from unnest($1::uuid[])", "SELECT"],
    ["select pg_try_advisory_lock(hashtext($1))", "SELECT"],
    ['update "customer_order" set "state" = $1', "UPDATE customer_order"],
    ['insert into "email_delivery" ("order_id", "kind") values ($1, $2)', "INSERT email_delivery"],
    ['insert into "payment"."charge" ("id") values ($1) returning "id"', "INSERT payment.charge"],
    ['select "id" from "product" where "id" = any($1) order by "id" for update of "product"', "SELECT product"],
  ])("%s: %s", (statement, summary) => {
    expect(summaryOf(statement)).toBe(summary);
  });
});
