import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { createdAt, updatedAt, uuidPrimaryKey } from "../db/common-properties.js";

/**
 * A catalogue product and its stock. Stock columns are changed only by atomic conditional
 * SQL updates (never read-modify-write); the database's check constraints back that up:
 * 0 <= stock_reserved <= stock_on_hand.
 */
export const ProductSchema = defineEntity({
  name: "Product",
  tableName: "product",
  // The catalogue's order, so a page is an index range whatever the catalogue's size.
  indexes: [{ name: "product_name_index", properties: ["name", "id"] }],
  checks: [
    { name: "product_unit_price_minor_check", expression: "unit_price_minor >= 0" },
    { name: "product_stock_check", expression: "stock_reserved >= 0 and stock_on_hand >= stock_reserved" },
  ],
  properties: {
    id: uuidPrimaryKey(),
    sku: p.string().length(64).unique(),
    name: p.string().length(200),
    description: p.text().default(""),
    unitPriceMinor: p.bigint("number"),
    currencyCode: p.character().length(3),
    stockOnHand: p.integer().default(0),
    stockReserved: p.integer().default(0),
    /** Bumped on every write; the product's etag is derived from it. */
    version: p.integer().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class Product extends ProductSchema.class {}
ProductSchema.setClass(Product);

export type ProductRecord = InferEntity<typeof ProductSchema>;
