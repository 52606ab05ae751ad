import { Product } from "../inventory/product.entity.js";

/** Every entity of the shop's database; the payment gateway keeps its own. */
export const shopEntities = [Product];
