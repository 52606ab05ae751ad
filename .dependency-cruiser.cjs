/**
 * The layering of src/, checked by `npm run lint` (dependency-cruiser). Imports flow one way:
 *
 *   entry points (bin/)
 *     -> process wiring (api/, worker/, the gateway's start, shop-database/)
 *       -> RPC adapters (*-rpc.ts, and clients of other services, *-client.ts)
 *         -> use cases and data access (the features)
 *           -> infrastructure (rpc/, db/, jobs/, logging/, config/, validation/, shared/, process/,
 *              telemetry/)
 *
 * Infrastructure names no feature; domain code knows nothing of gRPC; a feature reaches
 * another only through the modules named below; the payment gateway and the shop are
 * separate deployables that share infrastructure only.
 */
const FEATURES = "(auth|inventory|orders|notifications|payment-gateway)";
const SHOP_FEATURES = "(auth|inventory|orders|notifications)";
const INFRASTRUCTURE = "(rpc|db|jobs|logging|config|validation|shared|process|telemetry)";
const WIRING = "(api|worker|shop-database)";
/** Modules at the transport edge of a feature: they may speak gRPC and HTTP. */
const TRANSPORT_EDGE = "(-rpc|-client|-server|start-gateway|dev-mailbox)\\.ts$";

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "Modules that import each other cannot be understood, or changed, one at a time.",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "infrastructure-names-no-feature",
      comment: "rpc/, db/, jobs/ and the rest serve every feature and know none of them.",
      severity: "error",
      from: { path: `^src/${INFRASTRUCTURE}/` },
      to: { path: [`^src/${FEATURES}/`, `^src/${WIRING}/`, "^src/bin/"] },
    },
    {
      name: "nothing-imports-entry-points",
      comment: "bin/ holds the processes' main modules; nothing builds on them.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/bin/" },
      to: { path: "^src/bin/" },
    },
    {
      name: "wiring-only-from-entry-points",
      comment: "A process is assembled in one place, and started by its entry point.",
      severity: "error",
      from: { path: `^src/${FEATURES}/` },
      to: { path: [`^src/${WIRING}/`, "^src/payment-gateway/start-gateway\\.ts$"] },
    },
    {
      name: "domain-knows-no-grpc",
      comment: "Use cases and data access return domain values and throw domain errors; adapters translate.",
      severity: "error",
      from: { path: `^src/${FEATURES}/`, pathNot: TRANSPORT_EDGE },
      to: { path: ["^gen/", "^node_modules/@connectrpc/", "^src/rpc/"] },
    },
    {
      name: "rpc-adapters-only-from-wiring",
      comment: "Handlers are registered by the process that serves them, not called by use cases.",
      severity: "error",
      from: { path: "^src/", pathNot: [`^src/${WIRING}/`, "^src/payment-gateway/gateway-server\\.ts$", "-rpc\\.ts$"] },
      to: { path: "-rpc\\.ts$" },
    },
    {
      name: "orders-change-stock-through-inventory",
      comment:
        "Orders never name inventory's tables: stock changes are inventory's statement parts (stock-changes.ts).",
      severity: "error",
      from: { path: "^src/orders/", pathNot: "\\.entity\\.ts$" },
      to: { path: "^src/inventory/", pathNot: "^src/inventory/stock-changes\\.ts$" },
    },
    {
      name: "entities-are-their-features-own",
      comment: "Another feature's entity is imported only to relate entities (a foreign key).",
      severity: "error",
      from: { path: `^src/${FEATURES}/`, pathNot: "\\.entity\\.ts$" },
      to: { path: `^src/${FEATURES}/[^/]+\\.entity\\.ts$`, pathNot: "^src/$1/" },
    },
    {
      name: "gateway-and-shop-are-separate",
      comment: "The MockPaymentGateway is its own deployable: the shop calls it over gRPC only.",
      severity: "error",
      from: { path: `^src/${SHOP_FEATURES}/` },
      to: { path: "^src/payment-gateway/" },
    },
    {
      name: "shop-and-gateway-are-separate",
      comment: "The MockPaymentGateway knows nothing of the shop.",
      severity: "error",
      from: { path: "^src/payment-gateway/" },
      to: { path: [`^src/${SHOP_FEATURES}/`, `^src/${WIRING}/`] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
