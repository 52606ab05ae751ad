import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { createdAt, uuidPrimaryKey } from "../db/common-properties.js";
import { Product } from "./product.entity.js";

/**
 * The stock ledger: one row per change of a product's stock on hand, never updated.
 * A `requestId` makes an admin's adjustment idempotent: one adjustment per id, ever.
 */
export const StockMovementSchema = defineEntity({
  name: "StockMovement",
  tableName: "stock_movement",
  uniques: [{ name: "stock_movement_request_unique", properties: ["requestId"] }],
  properties: {
    id: uuidPrimaryKey(),
    product: () => p.manyToOne(Product).index("stock_movement_product_index"),
    delta: p.integer(),
    reason: p.string().length(200),
    stockOnHandAfter: p.integer(),
    requestId: p.string().length(64).nullable(),
    createdAt: createdAt(),
  },
});

export class StockMovement extends StockMovementSchema.class {}
StockMovementSchema.setClass(StockMovement);
export type StockMovementRecord = InferEntity<typeof StockMovementSchema>;
