import type { EntityManager } from "@mikro-orm/postgresql";
import { sql } from "kysely";
import type { Transporter } from "nodemailer";
import type pg from "pg";
import { findContact } from "../auth/user-contacts.js";
import { withAdvisoryLock } from "../db/advisory-locks.js";
import { retryingTransientFailures } from "../db/transient-failures.js";
import { type TablesOf, typedSql } from "../db/typed-sql.js";
import type { Logger } from "../logging/logger.js";
import { createOrderRepository } from "../orders/order-repository.js";
import type { EmailDeliverySchema } from "./email-delivery.entity.js";
import type { OrderEmailKind } from "./email-jobs.js";
import type { EmailRenderer } from "./email-templates.js";

type NotificationTables = TablesOf<typeof EmailDeliverySchema>;

/** About 30 s in all: longer than a database restart takes. */
const MARKER_RETRY_DELAYS_MS = [100, 250, 500, 1_000, 2_000, 4_000, 8_000, 15_000];

export interface OrderEmails {
  /**
   * Sends the order's email of this kind unless it was sent already; safe to run twice, even
   * at once. Throws EmailBeingSent while another run is sending it: retry later.
   */
  send(orderId: string, kind: OrderEmailKind): Promise<"sent" | "already_sent">;
}

/** Another run is sending this email right now; a later retry will find it sent. */
export class EmailBeingSent extends Error {
  constructor(orderId: string, kind: OrderEmailKind) {
    super(`the ${kind} email of order ${orderId} is being sent by another run`);
    this.name = "EmailBeingSent";
  }
}

export function createOrderEmails(deps: {
  em: EntityManager;
  /** Connections for the send locks, each held while its email is sent. */
  lockPool: pg.Pool;
  transport: Transporter;
  renderer: EmailRenderer;
  mailFrom: string;
  logger: Logger;
}): OrderEmails {
  const senderDomain = /@([^>\s]+)/.exec(deps.mailFrom)?.[1] ?? "shop.localhost";
  const orders = createOrderRepository(deps.em);
  const db = () => typedSql<NotificationTables>(deps.em);

  return {
    async send(orderId, kind) {
      // The sent marker alone would let two runs at once both find it missing and both send.
      const locked = await withAdvisoryLock(deps.lockPool, `email:${kind}:${orderId}`, () => sendOnce(orderId, kind));
      if (!locked.acquired) throw new EmailBeingSent(orderId, kind);
      return locked.value;
    },
  };

  async function sendOnce(orderId: string, kind: OrderEmailKind): Promise<"sent" | "already_sent"> {
    const sent = await db()
      .selectFrom("email_delivery")
      .select("message_id")
      .where("order_id", "=", orderId)
      .where("kind", "=", kind)
      .executeTakeFirst();
    if (sent) {
      deps.logger.info({ event: "email.already_sent", orderId, kind }, "email already sent");
      return "already_sent";
    }
    const order = await orders.find(orderId);
    if (!order) throw new Error(`order ${orderId} not found`);
    const customer = await findContact(deps.em, order.customerId);
    if (!customer) throw new Error(`customer of order ${orderId} not found`);

    const email = deps.renderer.render(kind, { order, customer: { displayName: customer.displayName } });
    // Deterministic: if a crash after sending makes the job run again, the receiving side
    // sees the same Message-ID and can drop the duplicate.
    const messageId = `<order-${kind}-${orderId}@${senderDomain}>`;
    await deps.transport.sendMail({
      from: deps.mailFrom,
      to: customer.email,
      subject: email.subject,
      html: email.html,
      text: email.text,
      messageId,
    });
    // The email is out: the marker must follow it even across a database restart, or the job
    // would run again and send a copy. Past these retries (about 30 s) that copy is possible,
    // under the same Message-ID; see the README's "Emails" section.
    await retryingTransientFailures(
      () =>
        db()
          .insertInto("email_delivery")
          .values({ order_id: orderId, kind, message_id: messageId, sent_at: sql<Date>`now()` })
          .onConflict((oc) => oc.doNothing())
          .execute(),
      MARKER_RETRY_DELAYS_MS,
    );
    deps.logger.info({ event: "email.sent", orderId, kind, messageId }, "email sent");
    return "sent";
  }
}
