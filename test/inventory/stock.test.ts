import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema, PreconditionFailureSchema } from "../../gen/google/rpc/error_details_pb.js";
import { failureOf } from "../support/failures.js";
import { useInventoryApi } from "../support/inventory-fixture.js";
import { createProduct } from "../support/products.js";

describe("InventoryService: AdjustStock", () => {
  const fixture = useInventoryApi();

  async function ledgerOf(productId: string) {
    return fixture.api.orm.em
      .fork()
      .execute<{ delta: number; reason: string; stock_on_hand_after: number }[]>(
        `select delta, reason, stock_on_hand_after from stock_movement where product_id = ? order by created_at, stock_on_hand_after`,
        [productId],
      );
  }

  it("adds and removes stock, recording each movement in the ledger", async () => {
    const product = await createProduct(fixture.inventory, fixture.admin, { initialStock: 10 });
    const delivery = await fixture.inventory.adjustStock(
      { productId: product.id, delta: 5, reason: "delivery" },
      fixture.admin.auth,
    );
    expect(delivery.product).toMatchObject({ stockOnHand: 15, stockAvailable: 15 });
    expect(delivery.movement).toMatchObject({
      productId: product.id,
      delta: 5,
      reason: "delivery",
      stockOnHandAfter: 15,
    });
    await fixture.inventory.adjustStock({ productId: product.id, delta: -15, reason: "stocktake" }, fixture.admin.auth);
    expect(await ledgerOf(product.id)).toEqual([
      { delta: 10, reason: "initial stock", stock_on_hand_after: 10 },
      { delta: 5, reason: "delivery", stock_on_hand_after: 15 },
      { delta: -15, reason: "stocktake", stock_on_hand_after: 0 },
    ]);
  });

  it("refuses to take stock below zero with FAILED_PRECONDITION and PreconditionFailure, changing nothing", async () => {
    const product = await createProduct(fixture.inventory, fixture.admin, { initialStock: 3 });
    const error = await failureOf(
      fixture.inventory.adjustStock({ productId: product.id, delta: -4, reason: "breakage" }, fixture.admin.auth),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("STOCK_BELOW_RESERVED");
    expect(error.findDetails(PreconditionFailureSchema)[0]?.violations).toEqual([
      expect.objectContaining({ type: "STOCK", subject: product.id }),
    ]);
    expect((await fixture.inventory.getProduct({ id: product.id })).product?.stockOnHand).toBe(3);
    expect(await ledgerOf(product.id)).toHaveLength(1);
  });

  it("refuses to take stock below what orders have reserved", async () => {
    const product = await createProduct(fixture.inventory, fixture.admin, { initialStock: 10 });
    await fixture.api.orm.em.fork().execute("update product set stock_reserved = 8 where id = ?", [product.id]);
    const error = await failureOf(
      fixture.inventory.adjustStock({ productId: product.id, delta: -3, reason: "loss" }, fixture.admin.auth),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    const ok = await fixture.inventory.adjustStock(
      { productId: product.id, delta: -2, reason: "loss" },
      fixture.admin.auth,
    );
    expect(ok.product).toMatchObject({ stockOnHand: 8, stockReserved: 8, stockAvailable: 0 });
  });

  it("validates the delta and the reason", async () => {
    const product = await createProduct(fixture.inventory, fixture.admin);
    const error = await failureOf(
      fixture.inventory.adjustStock({ productId: product.id, delta: 0, reason: "" }, fixture.admin.auth),
    );
    expect(error.code).toBe(Code.InvalidArgument);
  });

  it("applies a retried request_id once, and refuses the same request_id for another delta", async () => {
    const product = await createProduct(fixture.inventory, fixture.admin, { initialStock: 0 });
    const requestId = randomUUID();
    const adjust = { productId: product.id, delta: 4, reason: "delivery", requestId };
    const first = await fixture.inventory.adjustStock(adjust, fixture.admin.auth);
    const retried = await Promise.all([1, 2, 3].map(() => fixture.inventory.adjustStock(adjust, fixture.admin.auth)));
    for (const retry of retried) {
      expect(retry.movement?.id).toBe(first.movement?.id);
      expect(retry.product?.stockOnHand).toBe(4);
    }
    const otherProduct = await createProduct(fixture.inventory, fixture.admin, { initialStock: 0 });
    const elsewhere = await failureOf(
      fixture.inventory.adjustStock({ ...adjust, productId: otherProduct.id }, fixture.admin.auth),
    );
    expect(elsewhere.findDetails(ErrorInfoSchema)[0]?.reason).toBe("REQUEST_ID_REUSED");
    const reused = await failureOf(fixture.inventory.adjustStock({ ...adjust, delta: 5 }, fixture.admin.auth));
    expect(reused.code).toBe(Code.InvalidArgument);
    expect(reused.findDetails(ErrorInfoSchema)[0]?.reason).toBe("REQUEST_ID_REUSED");
    expect(await ledgerOf(product.id)).toHaveLength(1);
  });

  it("never loses an update under many parallel adjustments", async () => {
    const product = await createProduct(fixture.inventory, fixture.admin, { initialStock: 100 });
    const deltas = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 1 : 2));
    const results = await Promise.all(
      deltas.map((delta) =>
        fixture.inventory.adjustStock({ productId: product.id, delta, reason: "parallel" }, fixture.admin.auth),
      ),
    );
    const expected = 100 + deltas.reduce((sum, delta) => sum + delta, 0);
    expect((await fixture.inventory.getProduct({ id: product.id })).product?.stockOnHand).toBe(expected);
    // Each adjustment applied on top of the previous one: every response saw its own level.
    const levels = results.map((r) => r.movement?.stockOnHandAfter);
    expect(new Set(levels).size).toBe(deltas.length);
    expect(await ledgerOf(product.id)).toHaveLength(deltas.length + 1);
  });

  it("never goes negative when parallel removals compete for the last units", async () => {
    const product = await createProduct(fixture.inventory, fixture.admin, { initialStock: 10 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, () =>
        fixture.inventory.adjustStock({ productId: product.id, delta: -1, reason: "race" }, fixture.admin.auth),
      ),
    );
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(10);
    expect((await fixture.inventory.getProduct({ id: product.id })).product?.stockOnHand).toBe(0);
  });
});

describe("AdjustStock retries", () => {
  const fixture = useInventoryApi();

  it("answers a retry of a removal from the ledger even when the removal would no longer fit", async () => {
    const product = await createProduct(fixture.inventory, fixture.admin, { initialStock: 5 });
    const adjust = { productId: product.id, delta: -5, reason: "sold at the fair", requestId: randomUUID() };
    const first = await fixture.inventory.adjustStock(adjust, fixture.admin.auth);
    const retry = await fixture.inventory.adjustStock(adjust, fixture.admin.auth);
    expect(retry.movement?.id).toBe(first.movement?.id);
    expect(retry.product?.stockOnHand).toBe(0);
  });
});
