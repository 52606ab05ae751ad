import type { EntityManager } from "@mikro-orm/postgresql";
import { sql } from "kysely";
import { isUniqueViolation, typedSql } from "../db/typed-sql.js";
import { RequestIdReused, ResourceNotFound } from "../shared/domain-error.js";
import { RequestValidator } from "../validation/request-validator.js";
import { MAX_STOCK_CHANGE, PRODUCT_RESOURCE } from "./catalogue.js";
import { StockAdjustmentRefused } from "./inventory-errors.js";
import type { InventoryTables } from "./inventory-tables.js";
import type { ProductRecord } from "./product.entity.js";
import { findProduct, PRODUCT_FIELDS } from "./product-queries.js";

/** Stock on hand above this is refused, far from the int4 column's limit. */
const MAX_STOCK_ON_HAND = 1_000_000_000;

export interface StockMovement {
  id: string;
  productId: string;
  delta: number;
  reason: string;
  stockOnHandAfter: number;
  createdAt: Date;
}

export interface StockAdjustment {
  productId: string;
  delta: number;
  reason: string;
  /** Optional idempotency key; empty when the caller sent none. */
  requestId: string;
}

export interface Stock {
  adjustStock(input: StockAdjustment): Promise<{ product: ProductRecord; movement: StockMovement }>;
}

const MOVEMENT_FIELDS = [
  "id",
  "product_id as productId",
  "delta",
  "reason",
  "stock_on_hand_after as stockOnHandAfter",
  "created_at as createdAt",
] as const;

export function createStock(deps: { em: EntityManager }): Stock {
  const db = () => typedSql<InventoryTables>(deps.em);

  /** The adjustment already made under this request_id, or undefined; a different one is refused. */
  async function replay(adjustment: StockAdjustment) {
    if (adjustment.requestId === "") return undefined;
    const first = await db()
      .selectFrom("stock_movement")
      .select(MOVEMENT_FIELDS)
      .where("request_id", "=", adjustment.requestId)
      .executeTakeFirst();
    if (!first) return undefined;
    const same =
      first.productId === adjustment.productId &&
      first.delta === adjustment.delta &&
      first.reason === adjustment.reason;
    if (!same) throw new RequestIdReused(adjustment.requestId);
    const product = await findProduct(db(), adjustment.productId);
    return product && { product, movement: first };
  }

  return {
    async adjustStock(input) {
      const check = new RequestValidator();
      const productId = check.uuid("product_id", input.productId);
      const delta = check.integer("delta", input.delta, {
        min: -MAX_STOCK_CHANGE,
        max: MAX_STOCK_CHANGE,
        notZero: true,
      });
      const reason = check.text("reason", input.reason, { min: 1, max: 200 });
      const requestId = check.text("request_id", input.requestId, { max: 64 });
      check.throwIfInvalid();

      // A retry is answered from the ledger before anything is applied: bounds that no longer
      // hold must not turn a retry of a success into a failure.
      const earlier = await replay({ productId, delta, reason, requestId });
      if (earlier) return earlier;
      try {
        // One statement: an atomic conditional update (concurrent adjustments queue on the
        // row lock and each sees the previous one's result, so none is lost and the bounds
        // always hold) and its ledger entry, both or neither.
        const adjusted = await db()
          .with("adjusted", (qc) =>
            qc
              .updateTable("product")
              .set((eb) => ({
                stock_on_hand: eb("stock_on_hand", "+", delta),
                version: eb("version", "+", 1),
                updated_at: sql<Date>`now()`,
              }))
              .where("id", "=", productId)
              .where((eb) =>
                eb.and([
                  eb(eb("stock_on_hand", "+", delta), ">=", eb.ref("stock_reserved")),
                  eb(eb("stock_on_hand", "+", delta), "<=", MAX_STOCK_ON_HAND),
                ]),
              )
              .returning(PRODUCT_FIELDS),
          )
          .with("movement", (qc) =>
            qc
              .insertInto("stock_movement")
              .columns(["id", "product_id", "delta", "reason", "stock_on_hand_after", "request_id"])
              .expression((eb) =>
                eb
                  .selectFrom("adjusted")
                  .select([
                    sql<string>`gen_random_uuid()`.as("id"),
                    "id as product_id",
                    sql.val(delta).as("delta"),
                    sql.val(reason).as("reason"),
                    "stockOnHand as stock_on_hand_after",
                    sql.val(requestId === "" ? null : requestId).as("request_id"),
                  ]),
              )
              .returning(["id as movementId", "created_at as movementCreatedAt"]),
          )
          .selectFrom("adjusted")
          .innerJoin("movement", (join) => join.onTrue())
          .selectAll()
          .executeTakeFirst();
        if (adjusted) {
          const { movementId, movementCreatedAt, ...product } = adjusted;
          const movement = { id: movementId, productId, delta, reason, stockOnHandAfter: product.stockOnHand };
          return { product, movement: { ...movement, createdAt: movementCreatedAt } };
        }
        const product = await findProduct(db(), productId);
        if (!product) throw new ResourceNotFound(PRODUCT_RESOURCE, productId);
        throw new StockAdjustmentRefused(
          productId,
          delta,
          product.stockOnHand,
          product.stockReserved,
          MAX_STOCK_ON_HAND,
        );
      } catch (error) {
        // A concurrent duplicate committed first and this statement failed: answer the first.
        if (!isUniqueViolation(error, "stock_movement_request_unique")) throw error;
        const first = await replay({ productId, delta, reason, requestId });
        if (!first) throw error;
        return first;
      }
    },
  };
}
