import type { Kysely } from "kysely";
import { statementBuilder, type TablesOf } from "../db/typed-sql.js";
import type { ProductSchema } from "./product.entity.js";
import type { StockMovementSchema } from "./stock-movement.entity.js";

/** Inventory's tables, as its typed SQL sees them: products and the stock ledger. */
export type InventoryTables = TablesOf<typeof ProductSchema | typeof StockMovementSchema>;

/** For inventory's parts of other features' statements (stock-changes.ts). */
export const inventoryStatements: Kysely<InventoryTables> = statementBuilder<InventoryTables>();
