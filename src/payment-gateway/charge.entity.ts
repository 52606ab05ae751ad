import { defineEntity, p } from "@mikro-orm/core";
import { createdAt } from "../db/common-properties.js";

/**
 * The gateway's own storage, in its own PostgreSQL schema, which nothing else reads or
 * writes. Only the card's brand, last four digits and expiry are kept: never the number or CVC.
 */
export const GATEWAY_SCHEMA = "payment";

export const ChargeSchema = defineEntity({
  name: "Charge",
  schema: GATEWAY_SCHEMA,
  tableName: "charge",
  checks: [
    { name: "charge_status_check", expression: "status in ('succeeded', 'declined')" },
    { name: "charge_refund_check", expression: "amount_refunded_minor >= 0 and amount_refunded_minor <= amount_minor" },
  ],
  properties: {
    id: p.string().length(27).primary(),
    idempotencyKey: p.string().length(255).unique(),
    /** Hash of the parameters, to tell a retry from a reuse of the key for another charge. */
    requestFingerprint: p.string().length(64),
    amountMinor: p.bigint("number"),
    currencyCode: p.character().length(3),
    status: p.string().length(16),
    declineCode: p.string().length(32).nullable(),
    cardBrand: p.string().length(16),
    cardLast4: p.character().length(4),
    cardExpMonth: p.integer(),
    cardExpYear: p.integer(),
    description: p.string().length(500),
    amountRefundedMinor: p.bigint("number").default(0),
    createdAt: createdAt(),
  },
});
export class Charge extends ChargeSchema.class {}
ChargeSchema.setClass(Charge);

export const RefundSchema = defineEntity({
  name: "Refund",
  schema: GATEWAY_SCHEMA,
  tableName: "refund",
  properties: {
    id: p.string().length(27).primary(),
    charge: () => p.manyToOne(Charge).index("refund_charge_index"),
    idempotencyKey: p.string().length(255).unique(),
    requestFingerprint: p.string().length(64),
    amountMinor: p.bigint("number"),
    createdAt: createdAt(),
  },
});
export class Refund extends RefundSchema.class {}
RefundSchema.setClass(Refund);

export const gatewayEntities = [Charge, Refund];
