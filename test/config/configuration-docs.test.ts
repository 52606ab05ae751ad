import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GENERATED_FILES } from "../../scripts/config-docs.js";
import { CONFIG_SCHEMA, variablesOf } from "../../src/config/config.js";

describe("the configuration's documentation", () => {
  it.each(Object.entries(GENERATED_FILES))(
    "%s is what `npm run docs:config` writes from the schema",
    (file, render) => {
      expect(readFileSync(file, "utf8"), `${file} is stale: run npm run docs:config`).toBe(render());
    },
  );

  it("describes every variable once, with who reads it and what unset means", () => {
    const variables = variablesOf(CONFIG_SCHEMA);
    expect(new Set(variables.map((variable) => variable.name)).size).toBe(variables.length);
    for (const variable of variables) {
      expect(variable.readBy.length, variable.name).toBeGreaterThan(0);
      expect((variable.default === undefined) !== (variable.unset === undefined), variable.name).toBe(true);
    }
  });
});
