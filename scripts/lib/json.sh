# shellcheck shell=bash
# JSON on stdin, read with Node (always here, unlike jq). Sourced by the scripts beside it.

# Prints one dotted path (`order.state`): strings as they are, anything else as JSON. Fails
# when the path is missing.
json() {
  node -e '
    let value = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
    for (const key of process.argv[1].split(".")) value = value?.[key];
    if (value === undefined || value === null) process.exit(1);
    process.stdout.write(typeof value === "string" ? value : JSON.stringify(value));' "$1"
}

# Prints a JSON array of strings as NUL-terminated words, for `mapfile -d ''`.
json_words() {
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e 'for (const word of JSON.parse(require("node:fs").readFileSync(0, "utf8"))) process.stdout.write(`${word}\0`);'
}
