/**
 * The stock changes other features make: locking products to reserve them, reserving,
 * releasing, selling and restocking. Inventory alone writes its tables; these functions are
 * how others ask it to, as parts of their own statements (common table expressions), so
 * that an order and the stock it holds change in one statement: one round trip, all or
 * nothing. Every change to stock on hand is recorded in the ledger in the same statement.
 *
 * The parts they add are named `stock_*`; callers keep clear of those names.
 */
import { type AliasableExpression, type QueryCreator, sql } from "kysely";
import { statementBuilder } from "../db/typed-sql.js";
import { type InventoryTables, inventoryStatements } from "./inventory-tables.js";

/** A quantity of a product, as a row of the caller's statement. */
export interface StockLine {
  product_id: string;
  quantity: number;
}

/**
 * The caller's lines, selected from its own parts of the statement through the query creator
 * it is given (a plain one: the caller's own creator would repeat the statement's parts).
 */
export type LinesOf<DB> = (qc: QueryCreator<DB>) => AliasableExpression<StockLine>;

/**
 * The products with these ids, what is available of each and their price, as the statement's
 * snapshot has them: unlocked, so a caller can decide before it takes locks. Rows of unknown
 * ids are missing.
 */
export function stockOf(productIds: readonly string[]) {
  return inventoryStatements
    .selectFrom("product")
    .select((eb) => [
      "id as product_id",
      "sku",
      "name",
      "unit_price_minor",
      "currency_code",
      eb("stock_on_hand", "-", eb.ref("stock_reserved")).as("available"),
    ])
    .where("id", "=", sql<string>`any(${productIds}::uuid[])`);
}

/**
 * Locks the products the caller names, in id order, as `stock_locked` (column `id`), until
 * the statement commits: concurrent statements on shared products then queue instead of
 * deadlocking. A caller locks before it writes rows that reference the products (their
 * foreign-key checks would otherwise share-lock them first, and two such statements would
 * wait on each other's share locks), and reserves after.
 */
export function withStockLocked<DB>(
  qc: QueryCreator<DB>,
  productIds: (qc: QueryCreator<DB>) => AliasableExpression<{ product_id: string }>,
): QueryCreator<DB & { stock_locked: { id: string } }> {
  return asInventory(qc).with("stock_locked", (inner) =>
    inventoryStatements
      .selectFrom("product")
      .innerJoin(productIds(inner as unknown as QueryCreator<DB>).as("wanted"), "wanted.product_id", "product.id")
      .select("product.id")
      .orderBy("product.id")
      .forUpdate(["product"]),
  ) as unknown as QueryCreator<DB & { stock_locked: { id: string } }>;
}

/**
 * Reserves each line's quantity, on products the statement locked with withStockLocked. What
 * was available may have changed since the caller's snapshot: a reservation beyond what is on
 * hand fails the whole statement on product_stock_check (STOCK_CONSTRAINT), and the caller
 * decides again on fresh data.
 */
export function withStockReserved<DB>(qc: QueryCreator<DB>, lines: LinesOf<DB>): QueryCreator<DB> {
  return asInventory(qc).with("stock_reserved", (inner) =>
    inventoryStatements
      .updateTable("product")
      .from(lines(inner as unknown as QueryCreator<DB>).as("line"))
      .set((eb) => ({ stock_reserved: eb("product.stock_reserved", "+", eb.ref("line.quantity")) }))
      .whereRef("product.id", "=", "line.product_id")
      .returning("product.id"),
  ) as unknown as QueryCreator<DB>;
}

/** The check a reservation beyond what is on hand fails. */
export const STOCK_CONSTRAINT = "product_stock_check";

/** Gives reserved quantities back to what is available: nothing was sold. */
export function withStockReleased<DB>(qc: QueryCreator<DB>, lines: LinesOf<DB>): QueryCreator<DB> {
  return asInventory(qc).with("stock_released", (inner) =>
    inventoryStatements
      .updateTable("product")
      .from(lines(inner as unknown as QueryCreator<DB>).as("line"))
      .set((eb) => ({ stock_reserved: eb("product.stock_reserved", "-", eb.ref("line.quantity")) }))
      .whereRef("product.id", "=", "line.product_id")
      .returning("product.id"),
  ) as unknown as QueryCreator<DB>;
}

/** Reserved quantities leave the shelf: stock on hand and reserved both drop. Ledgered. */
export function withStockSold<DB>(qc: QueryCreator<DB>, lines: LinesOf<DB>, reason: string): QueryCreator<DB> {
  const sold = asInventory(qc).with("stock_sold", (inner) =>
    inventoryStatements
      .updateTable("product")
      .from(lines(inner as unknown as QueryCreator<DB>).as("line"))
      .set((eb) => ({
        stock_on_hand: eb("product.stock_on_hand", "-", eb.ref("line.quantity")),
        stock_reserved: eb("product.stock_reserved", "-", eb.ref("line.quantity")),
        version: eb("product.version", "+", 1),
        updated_at: sql<Date>`now()`,
      }))
      .whereRef("product.id", "=", "line.product_id")
      .returning((eb) => [
        "product.id as product_id",
        eb.neg(eb.ref("line.quantity")).as("delta"),
        "product.stock_on_hand",
      ]),
  );
  return sold.with("stock_sold_ledger", () => ledgerEntries("stock_sold", reason)) as unknown as QueryCreator<DB>;
}

/** Quantities come back onto the shelf (a cancelled order): stock on hand rises. Ledgered. */
export function withStockRestocked<DB>(qc: QueryCreator<DB>, lines: LinesOf<DB>, reason: string): QueryCreator<DB> {
  const restocked = asInventory(qc).with("stock_restocked", (inner) =>
    inventoryStatements
      .updateTable("product")
      .from(lines(inner as unknown as QueryCreator<DB>).as("line"))
      .set((eb) => ({
        stock_on_hand: eb("product.stock_on_hand", "+", eb.ref("line.quantity")),
        version: eb("product.version", "+", 1),
        updated_at: sql<Date>`now()`,
      }))
      .whereRef("product.id", "=", "line.product_id")
      .returning(["product.id as product_id", "line.quantity as delta", "product.stock_on_hand"]),
  );
  return restocked.with("stock_restocked_ledger", () =>
    ledgerEntries("stock_restocked", reason),
  ) as unknown as QueryCreator<DB>;
}

/** The parts above that change stock on hand, as the ledger reads them. */
type StockChanges = Record<
  "stock_sold" | "stock_restocked",
  { product_id: string; delta: number; stock_on_hand: number }
>;
const ledgerStatements = statementBuilder<InventoryTables & StockChanges>();

function ledgerEntries(changes: keyof StockChanges, reason: string) {
  return ledgerStatements
    .insertInto("stock_movement")
    .columns(["id", "product_id", "delta", "reason", "stock_on_hand_after"])
    .expression(
      ledgerStatements
        .selectFrom(changes)
        .select([
          sql<string>`gen_random_uuid()`.as("id"),
          "product_id",
          "delta",
          sql.val(reason).as("reason"),
          "stock_on_hand",
        ]),
    );
}

/** The caller's statement, seen with inventory's tables so that inventory can add its parts. */
function asInventory<DB>(qc: QueryCreator<DB>): QueryCreator<InventoryTables> {
  return qc as unknown as QueryCreator<InventoryTables>;
}
