import { Migration20261125000000_products } from "./migrations/Migration20261125000000_products.js";

/**
 * The shop's migrations in the order they apply. Listed explicitly, not globbed, so the same
 * list works from TypeScript sources and from the compiled image.
 */
export const shopMigrations = [{ name: "Migration20261125000000_products", class: Migration20261125000000_products }];
