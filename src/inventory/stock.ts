import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { RequestIdReused, ResourceNotFound } from "../shared/domain-error.js";
import { RequestValidator } from "../validation/request-validator.js";
import { MAX_STOCK_CHANGE, PRODUCT_RESOURCE } from "./catalogue.js";
import { StockAdjustmentRefused } from "./inventory-errors.js";
import type { ProductRecord } from "./product.entity.js";
import { loadProduct, PRODUCT_COLUMNS, type ProductRow, productFromRow } from "./product-rows.js";

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

interface MovementRow {
  id: string;
  product_id: string;
  delta: number;
  reason: string;
  stock_on_hand_after: number;
  created_at: string | Date;
}

const MOVEMENT_COLUMNS = `"id", "product_id", "delta", "reason", "stock_on_hand_after", "created_at"`;

export function createStock(deps: { em: EntityManager }): Stock {
  const em = () => deps.em.fork();

  /** The adjustment already made under this request_id, or undefined; a different one is refused. */
  async function replay(adjustment: StockAdjustment) {
    if (adjustment.requestId === "") return undefined;
    const conn = em();
    const [first] = await conn.execute<MovementRow[]>(
      `select ${MOVEMENT_COLUMNS} from "stock_movement" where "request_id" = ?`,
      [adjustment.requestId],
    );
    if (!first) return undefined;
    const same =
      first.product_id === adjustment.productId &&
      first.delta === adjustment.delta &&
      first.reason === adjustment.reason;
    if (!same) throw new RequestIdReused(adjustment.requestId);
    const product = await loadProduct(conn, adjustment.productId);
    return product && { product, movement: movementFromRow(first) };
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
        // One atomic conditional update: concurrent adjustments queue on the row lock and
        // each sees the previous one's result, so none is lost and the bounds always hold.
        return await em().transactional(async (tx) => {
          const [row] = await tx.execute<ProductRow[]>(
            `update "product" set "stock_on_hand" = "stock_on_hand" + ?, "version" = "version" + 1, "updated_at" = now()
             where "id" = ? and "stock_on_hand" + ? >= "stock_reserved" and "stock_on_hand" + ? <= ?
             returning ${PRODUCT_COLUMNS}`,
            [delta, productId, delta, delta, MAX_STOCK_ON_HAND],
          );
          if (!row) {
            const product = await loadProduct(tx, productId);
            if (!product) throw new ResourceNotFound(PRODUCT_RESOURCE, productId);
            throw new StockAdjustmentRefused(
              productId,
              delta,
              product.stockOnHand,
              product.stockReserved,
              MAX_STOCK_ON_HAND,
            );
          }
          const product = productFromRow(row);
          const [movement] = await tx.execute<MovementRow[]>(
            `insert into "stock_movement" ("id", "product_id", "delta", "reason", "stock_on_hand_after", "request_id")
             values (gen_random_uuid(), ?, ?, ?, ?, ?) returning ${MOVEMENT_COLUMNS}`,
            [productId, delta, reason, product.stockOnHand, requestId === "" ? null : requestId],
          );
          return { product, movement: movementFromRow(movement as MovementRow) };
        });
      } catch (error) {
        // A concurrent duplicate committed first and this transaction rolled back: answer the first.
        if (!(error instanceof UniqueConstraintViolationException)) throw error;
        const first = await replay({ productId, delta, reason, requestId });
        if (!first) throw error;
        return first;
      }
    },
  };
}

function movementFromRow(row: MovementRow): StockMovement {
  return {
    id: row.id,
    productId: row.product_id,
    delta: row.delta,
    reason: row.reason,
    stockOnHandAfter: row.stock_on_hand_after,
    createdAt: new Date(row.created_at),
  };
}
