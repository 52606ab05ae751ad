import { AlreadyExists, ConditionNotMet } from "../shared/domain-error.js";

export class SkuTaken extends AlreadyExists {
  readonly reason = "SKU_TAKEN";
  constructor(sku: string) {
    super(`a product with SKU "${sku}" already exists`);
  }
}

/**
 * Stock on hand may never drop below what is reserved for orders (so never below zero), nor
 * rise above maxStockOnHand.
 */
export class StockAdjustmentRefused extends ConditionNotMet {
  readonly reason: "STOCK_BELOW_RESERVED" | "STOCK_ABOVE_MAXIMUM";
  constructor(productId: string, delta: number, stockOnHand: number, stockReserved: number, maxStockOnHand: number) {
    const after = stockOnHand + delta;
    const description =
      after > maxStockOnHand
        ? `stock on hand ${stockOnHand} + ${delta} = ${after} would exceed the maximum of ${maxStockOnHand}`
        : `stock on hand ${stockOnHand} + ${delta} = ${after} would fall below the ${stockReserved} reserved for orders`;
    super(description, [{ type: "STOCK", subject: productId, description }], {
      stockOnHand: String(stockOnHand),
      stockReserved: String(stockReserved),
    });
    this.reason = after > maxStockOnHand ? "STOCK_ABOVE_MAXIMUM" : "STOCK_BELOW_RESERVED";
  }
}
