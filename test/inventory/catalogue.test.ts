import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema, ResourceInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { failureOf } from "../support/failures.js";
import { useInventoryApi } from "../support/inventory-fixture.js";
import { createProduct, uniqueSku } from "../support/products.js";

describe("InventoryService: the catalogue", () => {
  const fixture = useInventoryApi();

  describe("CreateProduct", () => {
    it("creates a product with its stock levels and an etag, and anyone can read it back", async () => {
      const sku = uniqueSku("MUG");
      const { product } = await fixture.inventory.createProduct(
        {
          sku,
          name: "Mug",
          description: "Stoneware",
          unitPrice: { currencyCode: "JPY", amountMinor: 1500n },
          initialStock: 7,
        },
        fixture.admin.auth,
      );
      expect(product).toMatchObject({
        sku,
        name: "Mug",
        unitPrice: { currencyCode: "JPY", amountMinor: 1500n },
        stockOnHand: 7,
        stockReserved: 0,
        stockAvailable: 7,
      });
      expect(product?.etag).not.toBe("");
      const { product: read } = await fixture.inventory.getProduct({ id: product?.id ?? "" });
      expect(read).toEqual(product);
    });

    it("refuses a SKU already in use with ALREADY_EXISTS", async () => {
      const existing = await createProduct(fixture.inventory, fixture.admin);
      const error = await failureOf(
        fixture.inventory.createProduct(
          { sku: existing.sku, name: "Copy", unitPrice: { currencyCode: "EUR", amountMinor: 1n } },
          fixture.admin.auth,
        ),
      );
      expect(error.code).toBe(Code.AlreadyExists);
      expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("SKU_TAKEN");
    });

    it("reports every invalid field together, and creates nothing", async () => {
      const error = await failureOf(
        fixture.inventory.createProduct(
          { sku: "bad sku!", name: "", unitPrice: { currencyCode: "EURO", amountMinor: -5n }, initialStock: -1 },
          fixture.admin.auth,
        ),
      );
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => [v.field, v.reason])).toEqual([
        ["sku", "INVALID_FORMAT"],
        ["name", "REQUIRED"],
        ["unit_price.currency_code", "INVALID_FORMAT"],
        ["unit_price.amount_minor", "OUT_OF_RANGE"],
        ["initial_stock", "OUT_OF_RANGE"],
      ]);
    });

    it("requires a price", async () => {
      const error = await failureOf(
        fixture.inventory.createProduct({ sku: uniqueSku(), name: "Free?" }, fixture.admin.auth),
      );
      expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations).toEqual([
        expect.objectContaining({ field: "unit_price", reason: "REQUIRED" }),
      ]);
    });
  });

  describe("GetProduct", () => {
    it("answers an unknown id with NOT_FOUND and ResourceInfo", async () => {
      const id = randomUUID();
      const error = await failureOf(fixture.inventory.getProduct({ id }));
      expect(error.code).toBe(Code.NotFound);
      expect(error.findDetails(ResourceInfoSchema)[0]).toMatchObject({
        resourceType: "shop.v1.Product",
        resourceName: id,
      });
    });

    it("answers an id that is not a UUID with INVALID_ARGUMENT, not INTERNAL", async () => {
      const error = await failureOf(fixture.inventory.getProduct({ id: "'; drop table product; --" }));
      expect(error.code).toBe(Code.InvalidArgument);
    });
  });

  describe("ListProducts", () => {
    const tagged = (tag: string, name: string) => `${name} ${tag}`;

    it("pages through products by name with opaque tokens, stable while products are inserted", async () => {
      const tag = randomUUID().slice(0, 8);
      for (const name of ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]) {
        await createProduct(fixture.inventory, fixture.admin, { name: tagged(tag, name) });
      }
      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await fixture.inventory.listProducts({ pageSize: 2, pageToken, nameContains: tag });
        seen.push(...page.products.map((p) => p.name));
        pageToken = page.nextPageToken;
        pages++;
        if (pages === 1) {
          // Inserted behind and ahead of the client's position while it pages.
          await createProduct(fixture.inventory, fixture.admin, { name: tagged(tag, "Aardvark") });
          await createProduct(fixture.inventory, fixture.admin, { name: tagged(tag, "Zulu") });
        }
      } while (pageToken !== "");
      expect(seen).toEqual(["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Zulu"].map((n) => tagged(tag, n)));
      expect(pages).toBe(3);
    });

    it("filters by stock available and by a case-insensitive name fragment, with % and _ taken literally", async () => {
      const tag = randomUUID().slice(0, 8);
      await createProduct(fixture.inventory, fixture.admin, { name: tagged(tag, "100% Cotton_Tee"), initialStock: 3 });
      await createProduct(fixture.inventory, fixture.admin, { name: tagged(tag, "1000 Cotton Tees"), initialStock: 0 });
      const inStock = await fixture.inventory.listProducts({ nameContains: tag.toUpperCase(), inStockOnly: true });
      expect(inStock.products.map((p) => p.name)).toEqual([tagged(tag, "100% Cotton_Tee")]);
      const literal = await fixture.inventory.listProducts({ nameContains: `% Cotton_T` });
      expect(literal.products.map((p) => p.name)).toContain(tagged(tag, "100% Cotton_Tee"));
      expect(literal.products.map((p) => p.name)).not.toContain(tagged(tag, "1000 Cotton Tees"));
    });

    it("refuses a tampered token, or one reused with other filters", async () => {
      const tag = randomUUID().slice(0, 8);
      for (const name of ["One", "Two"])
        await createProduct(fixture.inventory, fixture.admin, { name: tagged(tag, name) });
      const { nextPageToken } = await fixture.inventory.listProducts({ pageSize: 1, nameContains: tag });
      const otherFilters = await failureOf(
        fixture.inventory.listProducts({ pageToken: nextPageToken, nameContains: "x" }),
      );
      expect(otherFilters.code).toBe(Code.InvalidArgument);
      const forged = Buffer.from(JSON.stringify({ p: ["a", "not-a-uuid"], f: JSON.stringify({}) })).toString(
        "base64url",
      );
      for (const pageToken of ["garbage", forged]) {
        expect((await failureOf(fixture.inventory.listProducts({ pageToken }))).code).toBe(Code.InvalidArgument);
      }
    });

    it("uses 20 per page by default and at most 100", async () => {
      const everything = await fixture.inventory.listProducts({ pageSize: 1000 });
      expect(everything.products.length).toBeLessThanOrEqual(100);
      expect((await failureOf(fixture.inventory.listProducts({ pageSize: -1 }))).code).toBe(Code.InvalidArgument);
    });
  });

  describe("UpdateProduct", () => {
    it("changes only the fields in the mask and returns a new etag", async () => {
      const product = await createProduct(fixture.inventory, fixture.admin, { name: "Before" });
      const { product: updated } = await fixture.inventory.updateProduct(
        {
          product: { id: product.id, etag: product.etag, name: "After", description: "ignored, not in the mask" },
          updateMask: { paths: ["name"] },
        },
        fixture.admin.auth,
      );
      expect(updated).toMatchObject({ name: "After", description: product.description, sku: product.sku });
      expect(updated?.etag).not.toBe(product.etag);
    });

    it("refuses a stale etag with ABORTED and writes nothing", async () => {
      const product = await createProduct(fixture.inventory, fixture.admin, { name: "Original" });
      await fixture.inventory.updateProduct(
        { product: { id: product.id, etag: product.etag, name: "First writer" }, updateMask: { paths: ["name"] } },
        fixture.admin.auth,
      );
      const error = await failureOf(
        fixture.inventory.updateProduct(
          { product: { id: product.id, etag: product.etag, name: "Second writer" }, updateMask: { paths: ["name"] } },
          fixture.admin.auth,
        ),
      );
      expect(error.code).toBe(Code.Aborted);
      expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("ETAG_MISMATCH");
      expect((await fixture.inventory.getProduct({ id: product.id })).product?.name).toBe("First writer");
    });

    it("refuses an etag with an absurd version as INVALID_ARGUMENT, not INTERNAL", async () => {
      const product = await createProduct(fixture.inventory, fixture.admin);
      const etag = Buffer.from(`${product.id}:${"9".repeat(400)}`).toString("base64url");
      const error = await failureOf(
        fixture.inventory.updateProduct(
          { product: { id: product.id, etag, name: "x" }, updateMask: { paths: ["name"] } },
          fixture.admin.auth,
        ),
      );
      expect(error.code).toBe(Code.InvalidArgument);
    });

    it("refuses unknown mask paths and an empty mask", async () => {
      const product = await createProduct(fixture.inventory, fixture.admin);
      const unknown = await failureOf(
        fixture.inventory.updateProduct(
          { product: { id: product.id }, updateMask: { paths: ["sku", "name"] } },
          fixture.admin.auth,
        ),
      );
      expect(unknown.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual([
        "update_mask.paths[0]",
        "product.name",
      ]);
      const empty = await failureOf(
        fixture.inventory.updateProduct({ product: { id: product.id } }, fixture.admin.auth),
      );
      expect(empty.code).toBe(Code.InvalidArgument);
    });

    it("answers an unknown product with NOT_FOUND", async () => {
      const error = await failureOf(
        fixture.inventory.updateProduct(
          { product: { id: randomUUID(), name: "x" }, updateMask: { paths: ["name"] } },
          fixture.admin.auth,
        ),
      );
      expect(error.code).toBe(Code.NotFound);
    });
  });
});

describe("hostile input", () => {
  const fixture = useInventoryApi();

  it("answers NUL and other control characters in any text with INVALID_ARGUMENT, never INTERNAL", async () => {
    const nul = "bad\u0000value";
    const product = await createProduct(fixture.inventory, fixture.admin);
    const calls = [
      fixture.inventory.createProduct(
        { sku: uniqueSku(), name: nul, unitPrice: { currencyCode: "EUR", amountMinor: 1n } },
        fixture.admin.auth,
      ),
      fixture.inventory.createProduct(
        { sku: uniqueSku(), name: "ok", description: nul, unitPrice: { currencyCode: "EUR", amountMinor: 1n } },
        fixture.admin.auth,
      ),
      fixture.inventory.listProducts({ nameContains: nul }),
      fixture.inventory.listProducts({
        pageToken: Buffer.from(
          JSON.stringify({ p: [nul, randomUUID()], f: JSON.stringify({ inStockOnly: false, nameContains: "" }) }),
        ).toString("base64url"),
      }),
      fixture.inventory.updateProduct(
        { product: { id: product.id, name: nul }, updateMask: { paths: ["name"] } },
        fixture.admin.auth,
      ),
      fixture.inventory.adjustStock({ productId: product.id, delta: 1, reason: nul }, fixture.admin.auth),
      fixture.inventory.adjustStock(
        { productId: product.id, delta: 1, reason: "ok", requestId: nul },
        fixture.admin.auth,
      ),
    ];
    for (const error of await Promise.all(calls.map(failureOf))) expect(error.code).toBe(Code.InvalidArgument);
  });
});
