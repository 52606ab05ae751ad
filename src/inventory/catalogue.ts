import type { EntityManager } from "@mikro-orm/postgresql";
import { type Kysely, sql, type Updateable } from "kysely";
import { isUniqueViolation, typedSql } from "../db/typed-sql.js";
import { InvalidRequest, ResourceNotFound, StaleVersion } from "../shared/domain-error.js";
import { decodePageToken, encodePageToken, pageSizeOf } from "../shared/page-token.js";
import { hasControlCharacters, isUuid, RequestValidator } from "../validation/request-validator.js";
import { SkuTaken } from "./inventory-errors.js";
import type { InventoryTables } from "./inventory-tables.js";
import type { ProductRecord } from "./product.entity.js";
import { createProductReads, findProduct, PRODUCT_FIELDS, versionFromEtag } from "./product-queries.js";

export const PRODUCT_RESOURCE = "shop.v1.Product";
const SKU = /^[A-Z0-9][A-Z0-9._-]*$/;
/** The most one charge may be at the payment processor. */
const MAX_PRICE_MINOR = 99_999_999;
export const MAX_STOCK_CHANGE = 1_000_000;

export interface Price {
  currencyCode: string;
  amountMinor: bigint;
}

export interface NewProduct {
  sku: string;
  name: string;
  description: string;
  unitPrice?: Price;
  initialStock: number;
}

export interface ProductChanges {
  id: string;
  /** Empty: update regardless of concurrent changes. */
  etag: string;
  name?: string;
  description?: string;
  unitPrice?: Price | undefined;
}

export interface ProductQuery {
  pageSize: number;
  pageToken: string;
  inStockOnly: boolean;
  nameContains: string;
}

export interface ProductPage {
  products: ProductRecord[];
  nextPageToken: string;
}

export interface Catalogue {
  createProduct(input: NewProduct): Promise<ProductRecord>;
  getProduct(id: string): Promise<ProductRecord>;
  listProducts(query: ProductQuery): Promise<ProductPage>;
  /** `fields` names what to change: any of name, description, unit_price. */
  updateProduct(changes: ProductChanges, fields: readonly string[]): Promise<ProductRecord>;
}

const UPDATABLE_FIELDS = ["name", "description", "unit_price"] as const;

export function createCatalogue(deps: { em: EntityManager }): Catalogue {
  const db = () => typedSql<InventoryTables>(deps.em);
  const productById = createProductReads(db);

  return {
    async createProduct(input) {
      const check = new RequestValidator();
      const sku = check.text("sku", input.sku, {
        min: 1,
        max: 64,
        pattern: SKU,
        patternHint: "upper-case letters, digits, '.', '_' and '-', starting with a letter or digit",
      });
      const name = check.text("name", input.name, { min: 1, max: 200 });
      const description = check.text("description", input.description, { max: 5000 });
      const price = checkPrice(check, "unit_price", input.unitPrice);
      const initialStock = check.integer("initial_stock", input.initialStock, { min: 0, max: MAX_STOCK_CHANGE });
      check.throwIfInvalid();

      try {
        // The product and its first ledger entry in one statement: both or neither.
        return await db()
          .with("created", (qc) =>
            qc
              .insertInto("product")
              .values({
                id: sql<string>`gen_random_uuid()`,
                sku,
                name,
                description,
                unit_price_minor: Number(price.amountMinor),
                currency_code: price.currencyCode,
                stock_on_hand: initialStock,
              })
              .returning(PRODUCT_FIELDS),
          )
          .with("ledger", (qc) =>
            qc
              .insertInto("stock_movement")
              .columns(["id", "product_id", "delta", "reason", "stock_on_hand_after"])
              .expression((eb) =>
                eb
                  .selectFrom("created")
                  .select([
                    sql<string>`gen_random_uuid()`.as("id"),
                    "id as product_id",
                    "stockOnHand as delta",
                    sql.lit("initial stock").as("reason"),
                    "stockOnHand as stock_on_hand_after",
                  ])
                  .where("stockOnHand", ">", 0),
              ),
          )
          .selectFrom("created")
          .selectAll()
          .executeTakeFirstOrThrow();
      } catch (error) {
        if (isUniqueViolation(error, "product_sku_unique")) throw new SkuTaken(sku);
        throw error;
      }
    },

    async getProduct(id) {
      const check = new RequestValidator();
      check.uuid("id", id);
      check.throwIfInvalid();
      const product = await productById(id.toLowerCase());
      if (!product) throw new ResourceNotFound(PRODUCT_RESOURCE, id);
      return product;
    },

    async listProducts(query) {
      const check = new RequestValidator();
      const nameContains = check.text("name_contains", query.nameContains, { max: 100 });
      check.throwIfInvalid();
      const pageSize = pageSizeOf(query.pageSize);
      const filters = { inStockOnly: query.inStockOnly, nameContains };
      const after = decodePageToken(query.pageToken, filters, 2);
      const [afterName, afterId] = after ?? [];
      if (after && (typeof afterName !== "string" || hasControlCharacters(afterName) || !isUuid(afterId))) {
        throw new InvalidRequest([
          { field: "page_token", description: "is not a token this API issued", reason: "INVALID_FORMAT" },
        ]);
      }

      const page = productsPageQuery(
        db(),
        { inStockOnly: query.inStockOnly, nameContains },
        after && { name: afterName as string, id: afterId as string },
        pageSize + 1,
      );
      const rows = await page.execute();
      const products = rows.slice(0, pageSize);
      const last = products.at(-1);
      return {
        products,
        nextPageToken: rows.length > pageSize && last ? encodePageToken([last.name, last.id], filters) : "",
      };
    },

    async updateProduct(changes, fields) {
      const check = new RequestValidator();
      const id = check.uuid("product.id", changes.id);
      if (fields.length === 0) check.violation("update_mask", "must name at least one field", "REQUIRED");
      fields.forEach((field, index) => {
        if (!(UPDATABLE_FIELDS as readonly string[]).includes(field)) {
          check.violation(
            `update_mask.paths[${index}]`,
            `must be one of ${UPDATABLE_FIELDS.join(", ")}`,
            "UNKNOWN_FIELD",
          );
        }
      });
      const assignments: Updateable<InventoryTables["product"]> = {};
      if (fields.includes("name"))
        assignments.name = check.text("product.name", changes.name ?? "", { min: 1, max: 200 });
      if (fields.includes("description")) {
        assignments.description = check.text("product.description", changes.description ?? "", { max: 5000 });
      }
      if (fields.includes("unit_price")) {
        const price = checkPrice(check, "product.unit_price", changes.unitPrice);
        assignments.unit_price_minor = Number(price.amountMinor);
        assignments.currency_code = price.currencyCode;
      }
      const expectedVersion = changes.etag === "" ? undefined : versionFromEtag(id, changes.etag);
      if (changes.etag !== "" && expectedVersion === undefined) {
        check.violation("product.etag", "is not an etag of this product", "INVALID_FORMAT");
      }
      check.throwIfInvalid();

      let update = db()
        .updateTable("product")
        .set((eb) => ({ ...assignments, version: eb("version", "+", 1), updated_at: sql<Date>`now()` }))
        .where("id", "=", id);
      if (expectedVersion !== undefined) update = update.where("version", "=", expectedVersion);
      const updated = await update.returning(PRODUCT_FIELDS).executeTakeFirst();
      if (updated) return updated;
      if (await findProduct(db(), id)) throw new StaleVersion(PRODUCT_RESOURCE, id);
      throw new ResourceNotFound(PRODUCT_RESOURCE, id);
    },
  };
}

/**
 * A page of products by name, as product_name_index orders them: each page is a range of it,
 * whatever the filters and the catalogue's size.
 */
export function productsPageQuery(
  db: Kysely<InventoryTables>,
  filters: { inStockOnly: boolean; nameContains: string },
  after: { name: string; id: string } | undefined,
  limit: number,
) {
  let page = db.selectFrom("product").select(PRODUCT_FIELDS).orderBy("name").orderBy("id").limit(limit);
  if (filters.inStockOnly) page = page.where(sql<boolean>`stock_on_hand - stock_reserved > 0`);
  if (filters.nameContains !== "") {
    const pattern = `%${filters.nameContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    page = page.where(sql<boolean>`name ilike ${pattern} escape '\\'`);
  }
  if (after) page = page.where((eb) => eb(eb.refTuple("name", "id"), ">", eb.tuple(after.name, after.id)));
  return page;
}

function checkPrice(check: RequestValidator, field: string, price: Price | undefined) {
  if (!check.present(field, price)) return { currencyCode: "", amountMinor: 0 };
  return {
    currencyCode: check.currencyCode(`${field}.currency_code`, price.currencyCode),
    amountMinor: check.bigint(`${field}.amount_minor`, price.amountMinor, { min: 0, max: MAX_PRICE_MINOR }),
  };
}
