import { defineEntity, p } from "@mikro-orm/core";
import { Order } from "../orders/order.entity.js";

/** One row per email sent: the marker that makes a re-run job send nothing twice. */
export const EmailDeliverySchema = defineEntity({
  name: "EmailDelivery",
  tableName: "email_delivery",
  properties: {
    order: () => p.manyToOne(Order).primary(),
    kind: p.string().length(16).primary(),
    messageId: p.string().length(255),
    sentAt: p.datetime(),
  },
});
export class EmailDelivery extends EmailDeliverySchema.class {}
EmailDeliverySchema.setClass(EmailDelivery);
