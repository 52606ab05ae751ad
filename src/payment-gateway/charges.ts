import { createHash, randomBytes } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Logger } from "../logging/logger.js";
import { hasExpired } from "../shared/card-numbers.js";
import { InvalidRequest, ResourceNotFound, TemporarilyUnavailable } from "../shared/domain-error.js";
import { type CardInput, checkCard } from "../validation/card-checks.js";
import { RequestValidator } from "../validation/request-validator.js";
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

interface ChargeRow {
  id: string;
  idempotency_key: string;
  request_fingerprint: string;
  amount_minor: string | number;
  currency_code: string;
  status: "succeeded" | "declined";
  decline_code: DeclineCode | null;
  card_brand: string;
  card_last4: string;
  card_exp_month: number;
  card_exp_year: number;
  description: string;
  amount_refunded_minor: string | number;
  created_at: string | Date;
}

interface RefundRow {
  id: string;
  charge_id: string;
  idempotency_key: string;
  request_fingerprint: string;
  amount_minor: string | number;
  created_at: string | Date;
}

export function createCharges(deps: {
  em: EntityManager;
  faults: FaultInjection;
  logger: Logger;
  now?: () => Date;
}): Charges {
  const em = () => deps.em.fork();
  const now = deps.now ?? (() => new Date());

  async function findCharge(conn: EntityManager, column: "id" | "idempotency_key", value: string) {
    const [row] = await conn.execute<ChargeRow[]>(`select * from "payment"."charge" where "${column}" = ?`, [value]);
    return row;
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
      // A retry gets the first result, even if the card has expired since: checks that
      // depend on the time apply to new charges only.
      const earlier = await findCharge(em(), "idempotency_key", idempotencyKey);
      if (earlier) {
        if (earlier.request_fingerprint !== fingerprint) throw new IdempotencyKeyReused(idempotencyKey);
        await injectLatencyAfter(deps.faults);
        return chargeFromRow(earlier);
      }
      if (hasExpired(card.expMonth, card.expYear, now())) {
        throw new InvalidRequest([
          { field: "card.exp_year", description: "the card has expired", reason: "CARD_EXPIRED" },
        ]);
      }
      const outcome = outcomeFor(card.digits);
      if (outcome.kind === "processing_error") {
        // Transient and not recorded: a retry with the same key is processed afresh.
        deps.logger.warn({ event: "payment.processing_error", idempotencyKey }, "processing error");
        throw new TemporarilyUnavailable(
          "PROCESSING_ERROR",
          "the card could not be processed; nothing was charged, retry with the same idempotency key",
          PROCESSING_ERROR_RETRY_MS,
        );
      }

      const conn = em();
      const [inserted] = await conn.execute<ChargeRow[]>(
        `insert into "payment"."charge" ("id", "idempotency_key", "request_fingerprint", "amount_minor", "currency_code",
           "status", "decline_code", "card_brand", "card_last4", "card_exp_month", "card_exp_year", "description")
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         on conflict ("idempotency_key") do nothing returning *`,
        [
          newId("ch"),
          idempotencyKey,
          fingerprint,
          amountMinor,
          currencyCode,
          outcome.kind === "approved" ? "succeeded" : "declined",
          outcome.kind === "declined" ? outcome.declineCode : null,
          card.brand,
          card.last4,
          card.expMonth,
          card.expYear,
          description,
        ],
      );
      if (inserted) {
        const charge = chargeFromRow(inserted);
        deps.logger.info(
          {
            event: charge.status === "succeeded" ? "payment.charged" : "payment.declined",
            chargeId: charge.id,
            amountMinor,
            currencyCode,
            declineCode: charge.declineCode,
            card: `${card.brand} ${card.last4}`,
          },
          charge.status === "succeeded" ? "charged" : "declined",
        );
        await injectLatencyAfter(deps.faults);
        return charge;
      }
      // The key was used before: the same request gets the stored first result.
      const existing = await findCharge(conn, "idempotency_key", idempotencyKey);
      if (!existing) throw new Error("charge vanished after an idempotency conflict");
      if (existing.request_fingerprint !== fingerprint) throw new IdempotencyKeyReused(idempotencyKey);
      await injectLatencyAfter(deps.faults);
      return chargeFromRow(existing);
    },

    async getCharge(lookup, signal) {
      const check = new RequestValidator();
      const chargeId = check.text("charge_id", lookup.chargeId ?? "", { max: 64 });
      const idempotencyKey = check.text("idempotency_key", lookup.idempotencyKey ?? "", { max: 255 });
      if (!chargeId && !idempotencyKey) check.violation("lookup", "set charge_id or idempotency_key", "REQUIRED");
      check.throwIfInvalid();
      await injectFaultsBefore(deps.faults, signal, { isCharge: false });
      const row = chargeId
        ? await findCharge(em(), "id", chargeId)
        : await findCharge(em(), "idempotency_key", idempotencyKey);
      if (!row) throw new ResourceNotFound(CHARGE_RESOURCE, chargeId || idempotencyKey);
      await injectLatencyAfter(deps.faults);
      return chargeFromRow(row);
    },

    async refund(input, signal) {
      const check = new RequestValidator();
      const chargeId = check.text("charge_id", input.chargeId, { min: 1, max: 64 });
      const idempotencyKey = check.text("idempotency_key", input.idempotencyKey, { min: 1, max: 255 });
      const requested = check.bigint("amount_minor", input.amountMinor, { min: 0, max: MAX_AMOUNT_MINOR });
      check.throwIfInvalid();
      await injectFaultsBefore(deps.faults, signal, { isCharge: false });

      const conn = em();
      const replay = async (): Promise<{ refund: RefundRecord; charge: ChargeRecord } | undefined> => {
        const [row] = await conn.execute<RefundRow[]>(`select * from "payment"."refund" where "idempotency_key" = ?`, [
          idempotencyKey,
        ]);
        if (!row) return undefined;
        if (row.request_fingerprint !== fingerprintOf([chargeId, requested]))
          throw new IdempotencyKeyReused(idempotencyKey);
        const charge = await findCharge(conn, "id", chargeId);
        return charge && { refund: refundFromRow(row), charge: chargeFromRow(charge) };
      };
      const earlier = await replay();
      if (earlier) return earlier;

      try {
        const refunded = await conn.transactional(async (tx) => {
          const charge = await findCharge(tx, "id", chargeId);
          if (!charge) throw new ResourceNotFound(CHARGE_RESOURCE, chargeId);
          if (charge.status !== "succeeded") {
            throw new RefundRefused(chargeId, "CHARGE_NOT_REFUNDABLE", "only succeeded charges can be refunded");
          }
          const remaining = Number(charge.amount_minor) - Number(charge.amount_refunded_minor);
          const amount = requested === 0 ? remaining : requested;
          // Conditional and atomic: concurrent refunds can never exceed the charge.
          const [updated] = await tx.execute<ChargeRow[]>(
            `update "payment"."charge" set "amount_refunded_minor" = "amount_refunded_minor" + ?
             where "id" = ? and ? > 0 and "amount_refunded_minor" + ? <= "amount_minor" returning *`,
            [amount, chargeId, amount, amount],
          );
          if (!updated) {
            throw new RefundRefused(
              chargeId,
              "REFUND_EXCEEDS_CHARGE",
              `refunding ${amount} would exceed the ${remaining} not yet refunded`,
            );
          }
          const [refund] = await tx.execute<RefundRow[]>(
            `insert into "payment"."refund" ("id", "charge_id", "idempotency_key", "request_fingerprint", "amount_minor")
             values (?, ?, ?, ?, ?) returning *`,
            [newId("re"), chargeId, idempotencyKey, fingerprintOf([chargeId, requested]), amount],
          );
          deps.logger.info({ event: "payment.refunded", chargeId, amountMinor: amount }, "refunded");
          return { refund: refundFromRow(refund as RefundRow), charge: chargeFromRow(updated) };
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
}

function fingerprintOf(parameters: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parameters)).digest("hex");
}

/** "ch_" or "re_" and 24 random characters, as processors' ids look. */
function newId(prefix: "ch" | "re"): string {
  return `${prefix}_${randomBytes(18).toString("base64url")}`;
}

function chargeFromRow(row: ChargeRow): ChargeRecord {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    amountMinor: Number(row.amount_minor),
    currencyCode: row.currency_code,
    status: row.status,
    declineCode: row.decline_code,
    card: { brand: row.card_brand, last4: row.card_last4, expMonth: row.card_exp_month, expYear: row.card_exp_year },
    amountRefundedMinor: Number(row.amount_refunded_minor),
    description: row.description,
    createdAt: new Date(row.created_at),
  };
}

function refundFromRow(row: RefundRow): RefundRecord {
  return {
    id: row.id,
    chargeId: row.charge_id,
    amountMinor: Number(row.amount_minor),
    idempotencyKey: row.idempotency_key,
    createdAt: new Date(row.created_at),
  };
}
