import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { InvalidRequest, ResourceNotFound, StaleVersion } from "../shared/domain-error.js";
import { decodePageToken, encodePageToken, pageSizeOf } from "../shared/page-token.js";
import { hasControlCharacters, isUuid, RequestValidator } from "../validation/request-validator.js";
import { SkuTaken } from "./inventory-errors.js";
import type { ProductRecord } from "./product.entity.js";
import { loadProduct, PRODUCT_COLUMNS, type ProductRow, productFromRow, versionFromEtag } from "./product-rows.js";

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
  const em = () => deps.em.fork();

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
        return await em().transactional(async (tx) => {
          const [row] = await tx.execute<ProductRow[]>(
            `insert into "product" ("id", "sku", "name", "description", "unit_price_minor", "currency_code", "stock_on_hand")
             values (gen_random_uuid(), ?, ?, ?, ?, ?, ?) returning ${PRODUCT_COLUMNS}`,
            [sku, name, description, price.amountMinor, price.currencyCode, initialStock],
          );
          const product = productFromRow(row as ProductRow);
          if (initialStock > 0) {
            await tx.execute(
              `insert into "stock_movement" ("id", "product_id", "delta", "reason", "stock_on_hand_after")
               values (gen_random_uuid(), ?, ?, 'initial stock', ?)`,
              [product.id, initialStock, initialStock],
            );
          }
          return product;
        });
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) throw new SkuTaken(sku);
        throw error;
      }
    },

    async getProduct(id) {
      const check = new RequestValidator();
      check.uuid("id", id);
      check.throwIfInvalid();
      const product = await loadProduct(em(), id.toLowerCase());
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

      const conditions: string[] = [];
      const params: unknown[] = [];
      if (query.inStockOnly) conditions.push(`"stock_on_hand" - "stock_reserved" > 0`);
      if (nameContains !== "") {
        conditions.push(`"name" ilike ? escape '\\'`);
        params.push(`%${nameContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      }
      if (after) {
        conditions.push(`("name", "id") > (?, ?::uuid)`);
        params.push(...after);
      }
      const rows = await em().execute<ProductRow[]>(
        `select ${PRODUCT_COLUMNS} from "product"
         ${conditions.length > 0 ? `where ${conditions.join(" and ")}` : ""}
         order by "name", "id" limit ?`,
        [...params, pageSize + 1],
      );
      const products = rows.slice(0, pageSize).map(productFromRow);
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
      const assignments: string[] = [];
      const params: unknown[] = [];
      if (fields.includes("name")) {
        assignments.push(`"name" = ?`);
        params.push(check.text("product.name", changes.name ?? "", { min: 1, max: 200 }));
      }
      if (fields.includes("description")) {
        assignments.push(`"description" = ?`);
        params.push(check.text("product.description", changes.description ?? "", { max: 5000 }));
      }
      if (fields.includes("unit_price")) {
        const price = checkPrice(check, "product.unit_price", changes.unitPrice);
        assignments.push(`"unit_price_minor" = ?`, `"currency_code" = ?`);
        params.push(price.amountMinor, price.currencyCode);
      }
      const expectedVersion = changes.etag === "" ? undefined : versionFromEtag(id, changes.etag);
      if (changes.etag !== "" && expectedVersion === undefined) {
        check.violation("product.etag", "is not an etag of this product", "INVALID_FORMAT");
      }
      check.throwIfInvalid();

      const [row] = await em().execute<ProductRow[]>(
        `update "product" set ${assignments.join(", ")}, "version" = "version" + 1, "updated_at" = now()
         where "id" = ? ${expectedVersion === undefined ? "" : `and "version" = ?`}
         returning ${PRODUCT_COLUMNS}`,
        [...params, id, ...(expectedVersion === undefined ? [] : [expectedVersion])],
      );
      if (row) return productFromRow(row);
      if (await loadProduct(em(), id)) throw new StaleVersion(PRODUCT_RESOURCE, id);
      throw new ResourceNotFound(PRODUCT_RESOURCE, id);
    },
  };
}

function checkPrice(check: RequestValidator, field: string, price: Price | undefined) {
  if (!check.present(field, price)) return { currencyCode: "", amountMinor: 0 };
  return {
    currencyCode: check.currencyCode(`${field}.currency_code`, price.currencyCode),
    amountMinor: check.bigint(`${field}.amount_minor`, price.amountMinor, { min: 0, max: MAX_PRICE_MINOR }),
  };
}
