/**
 * The processor's test mode: what each test card does, as card processors document theirs.
 * Any other number that passes the Luhn check is charged successfully.
 */
export type CardOutcome =
  | { kind: "approved" }
  | { kind: "declined"; declineCode: DeclineCode }
  | { kind: "processing_error" };

export type DeclineCode = "generic_decline" | "insufficient_funds" | "expired_card" | "incorrect_cvc";

const TEST_CARDS: Readonly<Record<string, CardOutcome>> = {
  "4242424242424242": { kind: "approved" },
  "4000000000000002": { kind: "declined", declineCode: "generic_decline" },
  "4000000000009995": { kind: "declined", declineCode: "insufficient_funds" },
  "4000000000000069": { kind: "declined", declineCode: "expired_card" },
  "4000000000000127": { kind: "declined", declineCode: "incorrect_cvc" },
  "4000000000000119": { kind: "processing_error" },
};

export function outcomeFor(cardNumber: string): CardOutcome {
  return TEST_CARDS[cardNumber] ?? { kind: "approved" };
}
