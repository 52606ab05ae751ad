import { create, type DescEnum, type DescField, type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import type { Random } from "./seeded-random.js";

const STRINGS = [
  "",
  "a",
  "x".repeat(300),
  "name@example.com",
  "ÄÖÜ ✓ 🙂",
  "null",
  "-1",
  "00000000-0000-0000-0000-000000000000",
];
const NUMBERS = [0, 1, -1, 7, 2 ** 31 - 1, -(2 ** 31), 0.5, Number.NaN, Number.POSITIVE_INFINITY];

/**
 * A valid message of `schema` with a random selection of fields set to random, often
 * awkward, values (empty, huge, negative, non-ASCII), nested up to `depth` messages deep.
 */
export function randomMessage<T extends Message>(random: Random, schema: DescMessage, depth = 3): T {
  const message = reflect(schema, create(schema));
  for (const member of message.members) {
    const field = member.kind === "oneof" ? random.pick(member.fields) : member;
    if (random.chance(0.6)) fill(random, message, field, depth);
  }
  return message.message as T;
}

function fill(random: Random, message: ReflectMessage, field: DescField, depth: number): void {
  switch (field.fieldKind) {
    case "scalar":
      message.set(field, scalar(random, field.scalar, field.longAsString));
      return;
    case "enum":
      message.set(field, enumValue(random, field.enum));
      return;
    case "message":
      if (depth > 0) message.set(field, reflect(field.message, randomMessage(random, field.message, depth - 1)));
      return;
    case "list": {
      const list = message.get(field);
      for (let n = random.below(3); n > 0; n--) {
        if (field.listKind === "scalar") list.add(scalar(random, field.scalar, field.longAsString));
        else if (field.listKind === "enum") list.add(enumValue(random, field.enum));
        else if (depth > 0) list.add(reflect(field.message, randomMessage(random, field.message, depth - 1)));
      }
      return;
    }
    case "map": {
      const map = message.get(field);
      for (let n = random.below(3); n > 0; n--) {
        const key = scalar(random, field.mapKey, false);
        if (field.mapKind === "scalar") map.set(key, scalar(random, field.scalar, false));
        else if (field.mapKind === "enum") map.set(key, enumValue(random, field.enum));
        else if (depth > 0) map.set(key, reflect(field.message, randomMessage(random, field.message, depth - 1)));
      }
      return;
    }
  }
}

function enumValue(random: Random, schema: DescEnum): number {
  return random.chance(0.9) ? random.pick(schema.values).number : random.below(1000);
}

function scalar(random: Random, type: ScalarType, longAsString: boolean): unknown {
  const number = random.pick(NUMBERS);
  const integer = Number.isFinite(number) ? Math.trunc(number) : 0;
  switch (type) {
    case ScalarType.STRING:
      return random.pick(STRINGS);
    case ScalarType.BYTES:
      return random.bytes(random.below(20));
    case ScalarType.BOOL:
      return random.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return number;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return integer;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return Math.abs(integer);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return longAsString ? String(Math.abs(integer)) : BigInt(Math.abs(integer));
    default:
      return longAsString ? String(integer) : BigInt(integer);
  }
}
