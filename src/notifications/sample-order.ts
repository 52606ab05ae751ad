import type { OrderEmailContext } from "./order-email-context.js";

/**
 * What template previews render: an order with every part a template may show, including
 * a product name with markup in it, so a preview also shows that HTML is escaped.
 */
export function sampleEmailContext(): OrderEmailContext {
  const createdAt = new Date("2026-03-14T15:09:26Z");
  return {
    customer: { displayName: "Ada Lovelace" },
    order: {
      id: "0b5f3c1e-6a2d-4c8e-9f47-3d2a1b0c9e8f",
      number: 1042,
      customerId: "5d7e9f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a",
      requestId: "preview",
      requestFingerprint: "preview",
      state: "fulfilled",
      currencyCode: "EUR",
      subtotalMinor: 4_740,
      totalMinor: 4_740,
      card: { brand: "visa", last4: "4242" },
      chargeId: "ch_preview",
      refundId: null,
      failureCode: null,
      lines: [
        {
          productId: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
          sku: "MUG-TEAL",
          productName: "Teal mug",
          quantity: 2,
          unitPriceMinor: 1_250,
          lineTotalMinor: 2_500,
        },
        {
          productId: "1f2e3d4c-5b6a-4978-8a6b-5c4d3e2f1a0b",
          sku: "TEE-BOLD",
          productName: "T-shirt <b>bold</b> & co",
          quantity: 1,
          unitPriceMinor: 2_240,
          lineTotalMinor: 2_240,
        },
      ],
      createdAt,
      updatedAt: createdAt,
    },
  };
}
