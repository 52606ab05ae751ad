import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  InventoryService,
  type Product,
  ProductSchema,
  type StockMovement as StockMovementMessage,
  StockMovementSchema,
} from "../../gen/shop/v1/inventory_service_pb.js";
import type { Access } from "../auth/authentication-rpc.js";
import type { Catalogue } from "./catalogue.js";
import type { ProductRecord } from "./product.entity.js";
import { etagOf } from "./product-queries.js";
import type { Stock, StockMovement } from "./stock.js";

export const inventoryAccess: [string, Access][] = [
  [`${InventoryService.typeName}/CreateProduct`, "admin"],
  [`${InventoryService.typeName}/GetProduct`, "public"],
  [`${InventoryService.typeName}/ListProducts`, "public"],
  [`${InventoryService.typeName}/UpdateProduct`, "admin"],
  [`${InventoryService.typeName}/AdjustStock`, "admin"],
];

export function registerInventoryService(router: ConnectRouter, catalogue: Catalogue, stock: Stock): void {
  router.service(InventoryService, {
    async createProduct(request) {
      const product = await catalogue.createProduct(request);
      return { product: toProductMessage(product) };
    },
    async getProduct(request) {
      return { product: toProductMessage(await catalogue.getProduct(request.id)) };
    },
    async listProducts(request) {
      const page = await catalogue.listProducts(request);
      return { products: page.products.map(toProductMessage), nextPageToken: page.nextPageToken };
    },
    async updateProduct(request) {
      const fields = request.updateMask?.paths ?? [];
      const product = request.product;
      const updated = await catalogue.updateProduct(
        {
          id: product?.id ?? "",
          etag: product?.etag ?? "",
          name: product?.name,
          description: product?.description,
          unitPrice: product?.unitPrice,
        },
        fields,
      );
      return { product: toProductMessage(updated) };
    },
    async adjustStock(request) {
      const { product, movement } = await stock.adjustStock(request);
      return { product: toProductMessage(product), movement: toMovementMessage(movement) };
    },
  });
}

export function toProductMessage(product: ProductRecord): Product {
  return create(ProductSchema, {
    id: product.id,
    sku: product.sku,
    name: product.name,
    description: product.description,
    unitPrice: { currencyCode: product.currencyCode, amountMinor: BigInt(product.unitPriceMinor) },
    stockOnHand: product.stockOnHand,
    stockReserved: product.stockReserved,
    stockAvailable: product.stockOnHand - product.stockReserved,
    createTime: timestampFromDate(product.createdAt),
    updateTime: timestampFromDate(product.updatedAt),
    etag: etagOf(product),
  });
}

function toMovementMessage(movement: StockMovement): StockMovementMessage {
  return create(StockMovementSchema, {
    id: movement.id,
    productId: movement.productId,
    delta: movement.delta,
    reason: movement.reason,
    stockOnHandAfter: movement.stockOnHandAfter,
    createTime: timestampFromDate(movement.createdAt),
  });
}
