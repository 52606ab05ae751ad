import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { OrderState } from "../../gen/shop/v1/order_service_pb.js";
import { failureOf } from "../support/failures.js";
import { useOrderApi } from "../support/order-fixture.js";
import { createUser } from "../support/users.js";

/** Orders whose request_id starts so have their events refused by the outbox, while the trigger is there. */
const REFUSED = "outbox-refuses-";

/**
 * Marking an order paid is one statement: the state change, the sale of its stock and the
 * `paid` event in the outbox (from which the confirmation email follows) happen together or
 * not at all. The test makes the last part fail, in a database of its own, with a trigger
 * that refuses the event of marked orders.
 */
describe("settling a paid order", () => {
  const fixture = useOrderApi({}, { ownDatabase: "settlement" });
  const sql = async <T = unknown>(text: string, parameters: unknown[] = []) =>
    fixture.api.orm.em.fork().execute<T[]>(text, parameters);

  beforeAll(async () => {
    await sql(`
      create function refuse_marked_order_events() returns trigger language plpgsql as $$
      begin
        if exists (select 1 from customer_order where id = new.order_id and request_id like '${REFUSED}%') then
          raise exception 'the outbox refuses the % event of order %', new.kind, new.order_id;
        end if;
        return new;
      end $$`);
    await sql(`create trigger refuse_marked_order_events before insert on order_event
      for each row execute function refuse_marked_order_events()`);
  });

  const soldUnits = async (productId: string) => {
    const [row] = await sql<{ sold: string }>(
      "select coalesce(-sum(delta), 0) as sold from stock_movement where product_id = ? and reason like 'sold:%'",
      [productId],
    );
    return Number(row?.sold);
  };

  it("when the paid event cannot be written, then nothing of the settlement happens; recovery later pays the order with its event", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    const requestId = `${REFUSED}${randomUUID()}`;

    const error = await failureOf(
      fixture.place(customer, [{ productId: product.id, quantity: 2 }], "4242424242424242", requestId),
    );
    expect(error.code).toBe(Code.Internal);
    const [order] = (await fixture.orders.listOrders({}, customer.auth)).orders;
    const id = order?.id ?? "";
    // The card was charged; the statement that would record it failed as a whole.
    expect(await fixture.chargesFor(`order-${id}`)).toBe(1);
    expect(order).toMatchObject({ requestId, state: OrderState.PENDING_PAYMENT, chargeId: "" });
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 5, reserved: 2 });
    expect(await soldUnits(product.id)).toBe(0);
    expect(await fixture.emailJobsFor(id)).toEqual([]);

    await sql("drop trigger refuse_marked_order_events on order_event");
    expect(await fixture.api.orders.recoverPendingOrders(0)).toBe(1);
    expect((await fixture.orders.getOrder({ id }, customer.auth)).order?.state).toBe(OrderState.FULFILLED);
    expect(await fixture.stockOf(product.id)).toEqual({ onHand: 3, reserved: 0 });
    expect(await soldUnits(product.id)).toBe(2);
    expect(await fixture.emailJobsFor(id)).toEqual(["order-confirmation"]);
  });

  it("when orders are paid, declined or recovered, then each paid order has its paid event and no unpaid order has one", async () => {
    const customer = await createUser(fixture.api);
    const product = await fixture.product(5);
    await fixture.place(customer, [{ productId: product.id, quantity: 1 }]);
    await failureOf(fixture.place(customer, [{ productId: product.id, quantity: 1 }], "4000000000000002"));

    // No worker runs on this database: every event is still in the outbox.
    const [counts] = await sql<{ paid: string; unpaid: string }>(
      `select count(*) filter (where state in ('paid', 'fulfilled')) as paid,
              count(*) filter (where state not in ('paid', 'fulfilled', 'cancelled')) as unpaid
         from customer_order`,
    );
    expect(Number(counts?.paid)).toBeGreaterThanOrEqual(2);
    expect(Number(counts?.unpaid)).toBeGreaterThanOrEqual(1);
    const mismatched = await sql(
      `select o.id, o.state from customer_order o
        where (o.state in ('paid', 'fulfilled')) <> exists (select 1 from order_event e where e.order_id = o.id and e.kind = 'paid')`,
    );
    expect(mismatched).toEqual([]);
  });
});
