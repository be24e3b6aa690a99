/**
 * Serves a prom-client registry at GET /metrics over node:http, for Prometheus to scrape. Everything
 * else is refused, so a misconfigured scrape path shows up as a 404 rather than as empty data.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { formatBindAddress, type BindAddress } from './worker-settings';

export const METRICS_PATH = '/metrics';

export interface MetricsServer {
  /** Where it listens; the real port when 0 was asked for. */
  address: BindAddress;
  /** A URL to scrape from this machine (a wildcard host becomes loopback). */
  url: string;
  close(): Promise<void>;
}

/** What is served: a prom-client Registry (its exposition text and the content type that names its format). */
export type ScrapedRegistry = Pick<Registry, 'metrics' | 'contentType'>;

/** GET or HEAD /metrics: the registry's exposition, rendered afresh for every scrape. */
async function respond(registry: ScrapedRegistry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== METRICS_PATH) {
    res
      .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      .end(`not found; metrics are at ${METRICS_PATH}\n`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res
      .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
      .end('method not allowed\n');
    return;
  }
  let body: string;
  try {
    body = await registry.metrics();
  } catch (e) {
    res
      .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      .end(`rendering metrics failed: ${(e as Error).message}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export async function serveMetrics(registry: ScrapedRegistry, bind: BindAddress): Promise<MetricsServer> {
  // A response that cannot be written (the scraper hung up) ends its connection, never the worker.
  const server: Server = createServer((req, res) => void respond(registry, req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) =>
      reject(new Error(`metrics endpoint could not listen on ${formatBindAddress(bind)}: ${e.message}`));
    server.once('error', onError);
    server.listen(bind.port, bind.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = bind.host === '0.0.0.0' ? '127.0.0.1' : bind.host === '::' ? '::1' : bind.host;
  let closing: Promise<void> | undefined;
  return {
    address: { host: bind.host, port },
    url: `http://${formatBindAddress({ host, port })}${METRICS_PATH}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection would otherwise hold the worker's shutdown open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
