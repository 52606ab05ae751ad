import { createHash, randomBytes } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { type InferResult, type Insertable, type Kysely, sql } from "kysely";
import { boundStatement } from "../db/bound-statement.js";
import { statementBuilder, type TablesOf, typedSql } from "../db/typed-sql.js";
import type { Logger } from "../logging/logger.js";
import { hasExpired } from "../shared/card-numbers.js";
import { InvalidRequest, ResourceNotFound, TemporarilyUnavailable } from "../shared/domain-error.js";
import { type CardInput, checkCard } from "../validation/card-checks.js";
import { RequestValidator } from "../validation/request-validator.js";
import { type ChargeSchema, GATEWAY_SCHEMA, type RefundSchema } from "./charge.entity.js";
import { type FaultInjection, injectFaultsBefore, injectLatencyAfter } from "./faults.js";
import { IdempotencyKeyReused, RefundRefused } from "./payment-errors.js";
import { type DeclineCode, outcomeFor } from "./test-cards.js";

export const CHARGE_RESOURCE = "payment.v1.Charge";
const MAX_AMOUNT_MINOR = 99_999_999;
const PROCESSING_ERROR_RETRY_MS = 500;

export interface ChargeInput {
  idempotencyKey: string;
  amountMinor: bigint;
  currencyCode: string;
  card?: CardInput;
  description: string;
}

export interface ChargeRecord {
  id: string;
  idempotencyKey: string;
  amountMinor: number;
  currencyCode: string;
  status: "succeeded" | "declined";
  declineCode: DeclineCode | null;
  card: { brand: string; last4: string; expMonth: number; expYear: number };
  amountRefundedMinor: number;
  description: string;
  createdAt: Date;
}

export interface RefundRecord {
  id: string;
  chargeId: string;
  amountMinor: number;
  idempotencyKey: string;
  createdAt: Date;
}

export interface Charges {
  charge(input: ChargeInput, signal: AbortSignal): Promise<ChargeRecord>;
  getCharge(lookup: { chargeId?: string; idempotencyKey?: string }, signal: AbortSignal): Promise<ChargeRecord>;
  refund(
    input: { chargeId: string; amountMinor: bigint; idempotencyKey: string },
    signal: AbortSignal,
  ): Promise<{ refund: RefundRecord; charge: ChargeRecord }>;
}

type GatewayTables = TablesOf<typeof ChargeSchema | typeof RefundSchema>;

/** A charge's columns, named as ChargeRecord names them (card details flattened). */
const CHARGE_FIELDS = [
  "id",
  "idempotency_key as idempotencyKey",
  "request_fingerprint as requestFingerprint",
  "amount_minor as amountMinor",
  "currency_code as currencyCode",
  "status",
  "decline_code as declineCode",
  "card_brand as cardBrand",
  "card_last4 as cardLast4",
  "card_exp_month as cardExpMonth",
  "card_exp_year as cardExpYear",
  "amount_refunded_minor as amountRefundedMinor",
  "description",
  "created_at as createdAt",
] as const;

const REFUND_FIELDS = [
  "id",
  "charge_id as chargeId",
  "amount_minor as amountMinor",
  "idempotency_key as idempotencyKey",
  "request_fingerprint as requestFingerprint",
  "created_at as createdAt",
] as const;

export function createCharges(deps: {
  em: EntityManager;
  faults: FaultInjection;
  logger: Logger;
  now?: () => Date;
}): Charges {
  const db = () => typedSql<GatewayTables>(deps.em).withSchema(GATEWAY_SCHEMA);
  const now = deps.now ?? (() => new Date());

  function findCharge(conn: Kysely<GatewayTables>, by: { id: string } | { idempotencyKey: string }) {
    const query = selectCharges(conn);
    return (
      "id" in by ? query.where("id", "=", by.id) : query.where("idempotency_key", "=", by.idempotencyKey)
    ).executeTakeFirst();
  }

  /** The charge made earlier under this key, if any: the same request gets it again, another is refused. */
  async function earlierCharge(idempotencyKey: string, fingerprint: string) {
    const earlier = await findCharge(db(), { idempotencyKey });
    if (earlier && earlier.requestFingerprint !== fingerprint) throw new IdempotencyKeyReused(idempotencyKey);
    return earlier;
  }

  return {
    async charge(input, signal) {
      const check = new RequestValidator();
      const idempotencyKey = check.text("idempotency_key", input.idempotencyKey, { min: 1, max: 255 });
      const amountMinor = check.bigint("amount_minor", input.amountMinor, { min: 1, max: MAX_AMOUNT_MINOR });
      const currencyCode = check.currencyCode("currency_code", input.currencyCode);
      const description = check.text("description", input.description, { max: 500 });
      // Whether it has expired is checked below, for new charges only.
      const card = checkCard(check, input.card);
      check.throwIfInvalid();

      await injectFaultsBefore(deps.faults, signal, { isCharge: true });
      const fingerprint = fingerprintOf([
        amountMinor,
        currencyCode,
        card.brand,
        card.last4,
        card.expMonth,
        card.expYear,
        description,
      ]);
      const outcome = outcomeFor(card.digits);
      // Refusals that are not recorded: a retry gets the first result if there was one, even
      // if the card has expired since (checks that depend on the time apply to new charges).
      if (hasExpired(card.expMonth, card.expYear, now()) || outcome.kind === "processing_error") {
        const earlier = await earlierCharge(idempotencyKey, fingerprint);
        if (earlier) return answer(earlier);
        if (outcome.kind === "processing_error") {
          // Transient and not recorded: a retry with the same key is processed afresh.
          deps.logger.warn({ event: "payment.processing_error", idempotencyKey }, "processing error");
          throw new TemporarilyUnavailable(
            "PROCESSING_ERROR",
            "the card could not be processed; nothing was charged, retry with the same idempotency key",
            PROCESSING_ERROR_RETRY_MS,
          );
        }
        throw new InvalidRequest([
          { field: "card.exp_year", description: "the card has expired", reason: "CARD_EXPIRED" },
        ]);
      }

      // Inserted first, looked up only when the key was taken: a new charge is one statement.
      const [inserted] = await insertCharge(db(), {
        id: newId("ch"),
        idempotency_key: idempotencyKey,
        request_fingerprint: fingerprint,
        amount_minor: Number(amountMinor),
        currency_code: currencyCode,
        status: outcome.kind === "approved" ? "succeeded" : "declined",
        decline_code: outcome.kind === "declined" ? outcome.declineCode : null,
        card_brand: card.brand,
        card_last4: card.last4,
        card_exp_month: card.expMonth,
        card_exp_year: card.expYear,
        description,
      });
      if (inserted) {
        deps.logger.info(
          {
            event: inserted.status === "succeeded" ? "payment.charged" : "payment.declined",
            chargeId: inserted.id,
            amountMinor,
            currencyCode,
            declineCode: inserted.declineCode,
            card: `${card.brand} ${card.last4}`,
          },
          inserted.status === "succeeded" ? "charged" : "declined",
        );
        return answer(inserted);
      }
      const existing = await earlierCharge(idempotencyKey, fingerprint);
      if (!existing) throw new Error("charge vanished after an idempotency conflict");
      return answer(existing);
    },

    async getCharge(lookup, signal) {
      const check = new RequestValidator();
      const chargeId = check.text("charge_id", lookup.chargeId ?? "", { max: 64 });
      const idempotencyKey = check.text("idempotency_key", lookup.idempotencyKey ?? "", { max: 255 });
      if (!chargeId && !idempotencyKey) check.violation("lookup", "set charge_id or idempotency_key", "REQUIRED");
      check.throwIfInvalid();
      await injectFaultsBefore(deps.faults, signal, { isCharge: false });
      const row = await findCharge(db(), chargeId ? { id: chargeId } : { idempotencyKey });
      if (!row) throw new ResourceNotFound(CHARGE_RESOURCE, chargeId || idempotencyKey);
      return answer(row);
    },

    async refund(input, signal) {
      const check = new RequestValidator();
      const chargeId = check.text("charge_id", input.chargeId, { min: 1, max: 64 });
      const idempotencyKey = check.text("idempotency_key", input.idempotencyKey, { min: 1, max: 255 });
      const requested = check.bigint("amount_minor", input.amountMinor, { min: 0, max: MAX_AMOUNT_MINOR });
      check.throwIfInvalid();
      await injectFaultsBefore(deps.faults, signal, { isCharge: false });
      const fingerprint = fingerprintOf([chargeId, requested]);

      const replay = async (): Promise<{ refund: RefundRecord; charge: ChargeRecord } | undefined> => {
        const row = await db()
          .selectFrom("refund")
          .select(REFUND_FIELDS)
          .where("idempotency_key", "=", idempotencyKey)
          .executeTakeFirst();
        if (!row) return undefined;
        if (row.requestFingerprint !== fingerprint) throw new IdempotencyKeyReused(idempotencyKey);
        const charge = await findCharge(db(), { id: chargeId });
        return charge && { refund: refundOf(row), charge: chargeOf(charge) };
      };
      const earlier = await replay();
      if (earlier) return earlier;

      try {
        const refunded = await db()
          .transaction()
          .execute(async (tx) => {
            const charge = await findCharge(tx, { id: chargeId });
            if (!charge) throw new ResourceNotFound(CHARGE_RESOURCE, chargeId);
            if (charge.status !== "succeeded") {
              throw new RefundRefused(chargeId, "CHARGE_NOT_REFUNDABLE", "only succeeded charges can be refunded");
            }
            const remaining = charge.amountMinor - charge.amountRefundedMinor;
            const amount = requested === 0 ? remaining : requested;
            // Conditional and atomic: concurrent refunds can never exceed the charge.
            const updated = await tx
              .updateTable("charge")
              .set((eb) => ({ amount_refunded_minor: eb("amount_refunded_minor", "+", amount) }))
              .where("id", "=", chargeId)
              .where(sql<boolean>`${amount} > 0`)
              .where((eb) => eb(eb("amount_refunded_minor", "+", amount), "<=", eb.ref("amount_minor")))
              .returning(CHARGE_FIELDS)
              .executeTakeFirst();
            if (!updated) {
              throw new RefundRefused(
                chargeId,
                "REFUND_EXCEEDS_CHARGE",
                `refunding ${amount} would exceed the ${remaining} not yet refunded`,
              );
            }
            const refund = await tx
              .insertInto("refund")
              .values({
                id: newId("re"),
                charge_id: chargeId,
                idempotency_key: idempotencyKey,
                request_fingerprint: fingerprint,
                amount_minor: amount,
              })
              .returning(REFUND_FIELDS)
              .executeTakeFirstOrThrow();
            deps.logger.info({ event: "payment.refunded", chargeId, amountMinor: amount }, "refunded");
            return { refund: refundOf(refund), charge: chargeOf(updated) };
          });
        await injectLatencyAfter(deps.faults);
        return refunded;
      } catch (error) {
        // A concurrent duplicate committed first; its transaction won, ours rolled back.
        const concurrent = await replay().catch(() => undefined);
        if (concurrent) return concurrent;
        throw error;
      }
    },
  };

  /** The charge as the gateway answers it, after the configured latency (the work is done). */
  async function answer(row: ChargeRow): Promise<ChargeRecord> {
    await injectLatencyAfter(deps.faults);
    return chargeOf(row);
  }
}

/** A new charge, unless its idempotency key was taken: every charge's statement, built once. */
const insertCharge = boundStatement((charge: Insertable<GatewayTables["charge"]>) =>
  statementBuilder<GatewayTables>()
    .withSchema(GATEWAY_SCHEMA)
    .insertInto("charge")
    // Column by column: the stand-ins for the values are named one by one, never enumerated.
    .values({
      id: charge.id,
      idempotency_key: charge.idempotency_key,
      request_fingerprint: charge.request_fingerprint,
      amount_minor: charge.amount_minor,
      currency_code: charge.currency_code,
      status: charge.status,
      decline_code: charge.decline_code,
      card_brand: charge.card_brand,
      card_last4: charge.card_last4,
      card_exp_month: charge.card_exp_month,
      card_exp_year: charge.card_exp_year,
      description: charge.description,
    })
    .onConflict((oc) => oc.column("idempotency_key").doNothing())
    .returning(CHARGE_FIELDS),
);

const selectCharges = (conn: Kysely<GatewayTables>) => conn.selectFrom("charge").select(CHARGE_FIELDS);
type ChargeRow = InferResult<ReturnType<typeof selectCharges>>[number];

function fingerprintOf(parameters: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parameters)).digest("hex");
}

/** "ch_" or "re_" and 24 random characters, as processors' ids look. */
function newId(prefix: "ch" | "re"): string {
  return `${prefix}_${randomBytes(18).toString("base64url")}`;
}

function chargeOf(row: ChargeRow): ChargeRecord {
  const { cardBrand, cardLast4, cardExpMonth, cardExpYear, requestFingerprint: _, ...charge } = row;
  return {
    ...charge,
    status: charge.status as ChargeRecord["status"],
    declineCode: charge.declineCode as DeclineCode | null,
    card: { brand: cardBrand, last4: cardLast4, expMonth: cardExpMonth, expYear: cardExpYear },
  };
}

function refundOf(row: { id: string; chargeId: string; amountMinor: number; idempotencyKey: string; createdAt: Date }) {
  return {
    id: row.id,
    chargeId: row.chargeId,
    amountMinor: row.amountMinor,
    idempotencyKey: row.idempotencyKey,
    createdAt: row.createdAt,
  };
}
