import { LoginThrottle, User } from "../auth/user.entity.js";
import { Product } from "../inventory/product.entity.js";
import { StockMovement } from "../inventory/stock-movement.entity.js";
import { EmailDelivery } from "../notifications/email-delivery.entity.js";
import { Order, OrderEvent, OrderLine } from "../orders/order.entity.js";

/** Every entity of the shop's database; the payment gateway keeps its own. */
export const shopEntities = [Product, StockMovement, User, LoginThrottle, Order, OrderLine, OrderEvent, EmailDelivery];
