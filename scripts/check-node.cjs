// Runs first in the npm scripts that start the system or the tests. npm puts node_modules/.bin
// first on a script's PATH, and `npm ci` installs Node 24 there (this platform's optional
// dependency node-<platform>-<arch>), so `node` here is normally that Node, whatever Node runs
// npm. Where no such package exists for the platform, or `npm ci` left optional dependencies
// out, `node` is the machine's own: an old one is refused in one line, before anything starts.
// CommonJS with nothing new in it, so that any Node can read it.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8"));
// engines.node reads ">=MAJOR.MINOR".
const [wantedMajor, wantedMinor] = manifest.engines.node.slice(2).split(".").map(Number);
const [major, minor] = process.versions.node.split(".").map(Number);

if (major < wantedMajor || (major === wantedMajor && minor < wantedMinor)) {
  process.stderr.write(
    `order-backend needs Node.js ${wantedMajor}.${wantedMinor} or later; this is the machine's Node.js ${process.versions.node}, ` +
      `because npm ci installed no Node.js 24 for ${process.platform}-${process.arch} (none is published for it, or optional dependencies were omitted). ` +
      "Install Node.js 24 (https://nodejs.org/en/download, or `nvm install`, which reads .nvmrc) and run npm ci again.\n",
  );
  process.exit(1);
}
